"""A directory's configuration stamp, and the directory row read with it in a writing transaction.

Role rules and attribute mappings change rarely and are needed by every change
of a user, so the service keeps them per process
(``scimgate.service.provisioning.directory_config``).
Every change of them gives the directory's ``config_stamp`` a new random value
in the same transaction: a cache entry is good while the stamp it was read at
is the one the directory row holds. A random value rather than a counter, so
that a change rolled back never leaves an entry that a later change's stamp
would match.
"""

import secrets

from sqlalchemy import Connection, bindparam, select, update

from scimgate.store.errors import NotFound
from scimgate.store.prepared import Prepared
from scimgate.store.tables.tenancy import directories
from scimgate.store.tenants import Directory

_STAMP_BITS = 62
"""Random bits of a stamp: it fits a signed 64-bit column on every backend."""

_RESTAMP = (
    update(directories)
    .where(directories.c.id == bindparam("directory_id"))
    .values(config_stamp=bindparam("stamp"))
)
"""Built once: run by every change of a role rule or an attribute mapping."""

_DIRECTORY = Prepared(select(directories).where(directories.c.id == bindparam("directory_id")))
"""Built once: read at the start of every change of a directory's resources."""


def restamp(conn: Connection, directory_id: str) -> None:
    """Record that the directory's rules or mappings changed (in the changing transaction)."""
    conn.execute(
        _RESTAMP, {"directory_id": directory_id, "stamp": secrets.randbits(_STAMP_BITS) + 1}
    )


def directory(conn: Connection, directory_id: str) -> Directory:
    """The directory as this transaction sees it; ``NotFound`` for an id that names none."""
    row = _DIRECTORY.first_mapping(conn, {"directory_id": directory_id})
    if row is None:
        raise NotFound("directory", directory_id)
    return Directory(**row)
