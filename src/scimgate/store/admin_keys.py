"""Admin API keys: bearer keys that open the management API, stored only as hashes."""

from datetime import datetime

from sqlalchemy import Connection, select, update

from scimgate.records import frozen
from scimgate.store.tables.access import admin_keys


@frozen
class AdminKey:
    id: str
    name: str
    hint: str
    """The prefix and first characters of the secret, to tell keys apart."""

    scope: str
    """``read`` (GET and HEAD only) or ``write``."""

    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def insert_key(conn: Connection, key: AdminKey, secret_hash: str) -> None:
    conn.execute(admin_keys.insert().values(**vars(key), secret_hash=secret_hash))


def find_by_hash(conn: Connection, secret_hash: str) -> tuple[AdminKey, str] | None:
    """The key stored under a hash (one unique-index lookup), with the hash as stored."""
    row = conn.execute(select(admin_keys).where(admin_keys.c.secret_hash == secret_hash)).first()
    if row is None:
        return None
    fields = dict(row._mapping)
    stored_hash = fields.pop("secret_hash")
    return AdminKey(**fields), stored_hash


def list_keys(conn: Connection) -> list[AdminKey]:
    columns = [column for column in admin_keys.c if column.name != "secret_hash"]
    rows = conn.execute(select(*columns).order_by(admin_keys.c.created_at, admin_keys.c.id))
    return [AdminKey(**row._mapping) for row in rows]


def revoke(conn: Connection, key_id: str, at: datetime) -> bool:
    """Revoke a key; False when there is no such active key."""
    result = conn.execute(
        update(admin_keys)
        .where(admin_keys.c.id == key_id, admin_keys.c.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    return result.rowcount == 1


def touch(conn: Connection, key_id: str, at: datetime) -> None:
    conn.execute(update(admin_keys).where(admin_keys.c.id == key_id).values(last_used_at=at))


def get_key(conn: Connection, key_id: str) -> AdminKey | None:
    columns = [column for column in admin_keys.c if column.name != "secret_hash"]
    row = conn.execute(select(*columns).where(admin_keys.c.id == key_id)).first()
    return AdminKey(**row._mapping) if row is not None else None
