"""The directory a use case names by id, or ``UnknownDirectory``: the caller's mistake."""

from sqlalchemy import Connection

from scimgate.service.errors import UnknownDirectory
from scimgate.store import tenants
from scimgate.store.errors import NotFound
from scimgate.store.tenants import Directory


def existing_directory(conn: Connection, directory_id: str) -> Directory:
    try:
        return tenants.existing_directory(conn, directory_id)
    except NotFound:
        raise UnknownDirectory(directory_id) from None


def locked_directory(
    conn: Connection, directory_id: str, seen: Directory | None = None
) -> Directory:
    """The directory, its row locked (see :func:`scimgate.store.tenants.lock_directory`)."""
    try:
        return tenants.lock_directory(conn, directory_id, seen)
    except NotFound:
        raise UnknownDirectory(directory_id) from None
