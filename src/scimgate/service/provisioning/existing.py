"""A stored user or group a SCIM request names by id, or the SCIM 404 that answers it."""

from scim2_models import NotFoundException
from sqlalchemy import Connection

from scimgate.store.errors import NotFound
from scimgate.store.resource_tables import ResourceTable
from scimgate.store.stored_resources import StoredResource


def existing(
    table: ResourceTable, conn: Connection, directory_id: str, resource_id: str, *, for_update: bool
) -> StoredResource:
    """The stored resource, or the SCIM 404 for one the directory does not have."""
    try:
        return table.existing(conn, directory_id, resource_id, for_update=for_update)
    except NotFound:
        raise NotFoundException(
            detail=f"No {table.noun} with id {resource_id} in this directory"
        ) from None
