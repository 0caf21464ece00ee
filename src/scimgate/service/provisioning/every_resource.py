"""Reading all of a directory's users or groups, a page per short transaction."""

from collections.abc import Iterator

from sqlalchemy import Engine

from scimgate.store.resource_tables import ResourceTable
from scimgate.store.stored_resources import StoredResource
from scimgate.store.transactions import reading

PAGE = 500


def every_resource(
    engine: Engine, directory_id: str, table: ResourceTable
) -> Iterator[StoredResource]:
    """Every resource of the table in the directory, in id order, resumed by keyset."""
    after: str | None = None
    while True:
        with reading(engine) as conn:
            page = table.page(conn, directory_id, None, PAGE, after_id=after)
        yield from page
        if len(page) < PAGE:
            return
        after = page[-1].id
