"""The directory a use case names by id, or ``UnknownDirectory``: the caller's mistake."""

from sqlalchemy import Connection

from scimgate.service.errors import Conflict, UnknownDirectory
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


PULLED = "google"
"""The kind of a directory scimgate pulls from Google Workspace."""


class PulledDirectory(Conflict):
    """A SCIM credential asked for a directory scimgate pulls."""

    def __init__(self, directory_id: str) -> None:
        super().__init__(
            f"directory {directory_id} is pulled from Google Workspace: no identity provider "
            "pushes to it, so it takes no SCIM token or OAuth client"
        )


def pushed_directory(conn: Connection, directory_id: str) -> Directory:
    """A directory its IdP pushes to, which SCIM credentials may be made for."""
    directory = existing_directory(conn, directory_id)
    if directory.kind == PULLED:
        raise PulledDirectory(directory_id)
    return directory
