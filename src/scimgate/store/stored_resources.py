"""A resource as stored, and how a resource type lays its rows out.

``ResourceLayout`` is what the reads (``store/resource_reads.py``) and the writes
(``store/resource_writes.py``) of a resource type share; ``store/resource_tables.py``
joins them into the ``ResourceTable`` of users and of groups.
"""

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table

from scimgate.records import frozen
from scimgate.store.column_codec import ColumnCodec


@frozen
class StoredResource:
    """A resource as stored: its SCIM document and the server-owned values around it."""

    id: str
    doc: dict[str, Any]
    created_at: datetime
    modified_at: datetime
    version: int
    confirmed_at: datetime | None = None
    """When the IdP last sent or asked for the resource (drift detection)."""

    @classmethod
    def new(cls, resource_id: str, doc: dict[str, Any], at: datetime) -> "StoredResource":
        return cls(resource_id, doc, at, at, 1, at)

    def evolved(self, doc: dict[str, Any], at: datetime) -> "StoredResource":
        """The next version of this resource, holding ``doc``."""
        return StoredResource(self.id, doc, self.created_at, at, self.version + 1, at)


@frozen
class ResourceLayout:
    """How one resource type is laid out: its table and the columns derived from its document."""

    noun: str
    """What the resource is called in messages: "user", "group"."""

    table: Table
    columns: Callable[[ColumnCodec, str, str, dict[str, Any]], dict[str, Any]]
    """The document and the columns derived from it, as stored: (codec, directory id,
    resource id, document)."""

    def stored_columns(self) -> list[Any]:
        """The columns a resource is read back from, in the order :meth:`stored_from` takes."""
        c = self.table.c
        return [c.id, c.doc, c.created_at, c.modified_at, c.version, c.confirmed_at]

    def stored_from(
        self, codec: ColumnCodec, directory_id: str, row: Sequence[Any]
    ) -> StoredResource:
        """A row read back as a resource, its document opened (the row starts with the
        columns of :meth:`stored_columns`)."""
        resource_id, stored, created_at, modified_at, version, confirmed_at = row[:6]
        place = f"{self.table.name}.doc"
        document = codec.open_document(stored, place, directory_id, resource_id)
        return StoredResource(resource_id, document, created_at, modified_at, version, confirmed_at)

    @property
    def name_column(self) -> Any:
        """The column naming a resource to people: a user's userName, a group's displayName."""
        c = self.table.c
        return c.user_name if "user_name" in c else c.display_name
