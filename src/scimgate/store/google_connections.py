"""Pulled Google Workspace directories: how to reach each, when to sync it, how it went."""

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, delete, exists, or_, select, update

from scimgate.records import frozen
from scimgate.scim import jsontext
from scimgate.store.column_codec import codec_of
from scimgate.store.encryption import (
    PREFIX,
    Keyring,
    Resealed,
    count_keys,
    key_id_of,
    refuse_plain_read,
)
from scimgate.store.tables.pull import google_channels, google_connections

_KEY = "google_connections.credentials"
"""Where the sealed credentials live (bound into their encryption)."""


@frozen
class GoogleConnection:
    """A directory's connection as shown: never its credentials."""

    directory_id: str
    customer_id: str
    """Google's customer id (``C0…``), or ``my_customer``: the admin's own account."""

    admin_email: str
    """The administrator the service account acts as (domain-wide delegation)."""

    client_id: str
    """The service account's client id: what domain-wide delegation is granted to."""

    client_email: str
    scope_kind: str
    """``all``, ``org_units`` or ``groups``."""

    scope_values: list[str]
    interval_minutes: float
    next_sync_at: datetime
    created_at: datetime
    updated_at: datetime
    last_started_at: datetime | None = None
    last_finished_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_counts: dict[str, int] | None = None
    empty_refused_at: datetime | None = None
    """When the last sync found nobody in scope while the directory had users, and refused
    to deprovision them; None once a sync completed."""

    empty_allowed_at: datetime | None = None
    """When an administrator allowed the next sync to deprovision everyone if it finds
    nobody in scope; None once a sync completed."""

    @property
    def by_consent(self) -> bool:
        """Whether an administrator's OAuth consent opens the account (its client is the
        operator's OAuth client, which has no address), not a service account."""
        return bool(self.client_id) and not self.client_email


_SHOWN = [column for column in google_connections.c if column.name != "credentials"]
_LEASE = ("lease_owner", "lease_until")
_SETTINGS = (
    "customer_id",
    "admin_email",
    "client_id",
    "client_email",
    "scope_kind",
    "scope_values",
    "interval_minutes",
    "next_sync_at",
    "updated_at",
)


def save(conn: Connection, connection: GoogleConnection, key: dict[str, Any] | None) -> None:
    """Create or replace a directory's connection settings and credentials (its sync record
    stays).

    Without credentials of its own, the directory is read with the operator's service account.
    """
    sealed = (
        None
        if key is None
        else codec_of(conn).seal(
            jsontext.dumps(key), _KEY, connection.directory_id, connection.directory_id
        )
    )
    table = google_connections
    changed = conn.execute(
        update(table)
        .where(table.c.directory_id == connection.directory_id)
        .values(credentials=sealed, **{name: getattr(connection, name) for name in _SETTINGS})
    ).rowcount
    if not changed:
        values = {name: value for name, value in vars(connection).items() if name not in _LEASE}
        conn.execute(table.insert().values(credentials=sealed, **values))


def get(conn: Connection, directory_id: str) -> GoogleConnection | None:
    row = conn.execute(
        select(*_SHOWN).where(google_connections.c.directory_id == directory_id)
    ).first()
    if row is None:
        return None
    values = {k: v for k, v in row._mapping.items() if k not in _LEASE}
    return GoogleConnection(**values)


def credentials(conn: Connection, directory_id: str) -> dict[str, Any] | None:
    """The directory's own credentials (a service account key, or an administrator's
    consent), opened; None when it uses the operator's service account (or is not
    connected yet)."""
    stored = conn.execute(
        select(google_connections.c.credentials).where(
            google_connections.c.directory_id == directory_id
        )
    ).scalar()
    if stored is None:
        return None
    codec = codec_of(conn)
    if not codec.sealed and stored.startswith(PREFIX):
        refuse_plain_read(_KEY, stored)
    key: dict[str, Any] = jsontext.loads(codec.open(stored, _KEY, directory_id, directory_id))
    return key


def reseal(conn: Connection, keyring: Keyring, after: str, limit: int) -> Resealed[str]:
    """Encrypt up to ``limit`` directories' credentials (by directory, after ``after``) under the
    keyring's newest key."""
    c = google_connections.c
    rows = conn.execute(
        select(c.directory_id, c.credentials)
        .where(c.directory_id > after)
        .order_by(c.directory_id)
        .limit(limit)
        .with_for_update()
    ).all()
    changed = 0
    for directory_id, stored in rows:
        if stored is None or key_id_of(stored) == keyring.newest.id:
            continue
        plain = keyring.open(stored, _KEY, directory_id, directory_id)
        sealed = keyring.seal(plain, _KEY, directory_id, directory_id)
        conn.execute(
            update(google_connections)
            .where(c.directory_id == directory_id)
            .values(credentials=sealed)
        )
        changed += 1
    return Resealed(rows[-1].directory_id if rows else None, changed)


def _due(now: datetime) -> ColumnElement[bool]:
    """A directory whose sync is due and that no live lease holds (a lease that ran out,
    its worker dead, holds nothing)."""
    table = google_connections
    return and_(
        table.c.next_sync_at <= now,
        or_(table.c.lease_until.is_(None), table.c.lease_until < now),
    )


def any_due(conn: Connection, now: datetime) -> bool:
    """Whether some directory's sync is due: read before a lease is asked for, so that a
    worker with nothing to sync writes nothing (on SQLite a write takes the one writer's
    turn)."""
    return bool(conn.execute(select(exists().where(_due(now)))).scalar())


def claim_due(conn: Connection, owner: str, now: datetime, until: datetime) -> str | None:
    """Lease the directory whose sync is most overdue to ``owner``; None when none is due.

    A lease that ran out (its worker died) is taken over; PostgreSQL skips rows
    another worker is leasing at the same moment.
    """
    table = google_connections
    candidate = conn.execute(
        select(table.c.directory_id)
        .where(_due(now))
        .order_by(table.c.next_sync_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).scalar()
    if candidate is None:
        return None
    conn.execute(
        update(table)
        .where(table.c.directory_id == candidate)
        .values(lease_owner=owner, lease_until=until, last_started_at=now)
    )
    return str(candidate)


def renew(conn: Connection, directory_id: str, owner: str, until: datetime) -> bool:
    """Extend a lease this owner holds; False when it lost it."""
    table = google_connections
    return bool(
        conn.execute(
            update(table)
            .where(table.c.directory_id == directory_id, table.c.lease_owner == owner)
            .values(lease_until=until)
        ).rowcount
    )


def finish(
    conn: Connection,
    directory_id: str,
    owner: str | None,
    *,
    started_at: datetime,
    at: datetime,
    next_sync_at: datetime,
    counts: dict[str, int],
    error: str | None,
) -> None:
    """Record how a sync that began at ``started_at`` ended, and release the lease ``owner``
    holds (None: the sync ran outside the workers, without one).

    A sync asked for while it ran (``next_sync_at`` moved past its start) stays due.
    """
    table = google_connections
    values: dict[str, Any] = {
        "last_started_at": started_at,
        "last_finished_at": at,
        "last_counts": counts,
        "last_error": error,
    }
    if error is None:
        values["last_success_at"] = at
    mine = table.c.directory_id == directory_id
    if owner is not None:
        values.update(lease_owner=None, lease_until=None)
        mine = mine & (table.c.lease_owner == owner)
    conn.execute(update(table).where(mine).values(**values))
    conn.execute(
        update(table)
        .where(table.c.directory_id == directory_id, table.c.next_sync_at <= started_at)
        .values(next_sync_at=next_sync_at)
    )


def refused_empty(conn: Connection, directory_id: str, at: datetime) -> None:
    """Record that a sync refused to deprovision everyone, having found nobody in scope."""
    table = google_connections
    conn.execute(
        update(table).where(table.c.directory_id == directory_id).values(empty_refused_at=at)
    )


def allow_empty(conn: Connection, directory_id: str, at: datetime) -> bool:
    """Let the next sync deprovision everyone if it finds nobody in scope, and make it due
    at ``at``; False when the directory has no connection."""
    table = google_connections
    return bool(
        conn.execute(
            update(table)
            .where(table.c.directory_id == directory_id)
            .values(empty_allowed_at=at, next_sync_at=at)
        ).rowcount
    )


def completed(conn: Connection, directory_id: str, allowed_at: datetime | None) -> None:
    """A sync read the account and wrote what it found: no refusal stands, and the allowance
    it began with (``allowed_at``) is used up. One given while it ran holds for the next."""
    table = google_connections
    mine = table.c.directory_id == directory_id
    conn.execute(update(table).where(mine).values(empty_refused_at=None))
    if allowed_at is not None:
        conn.execute(
            update(table)
            .where(mine, table.c.empty_allowed_at == allowed_at)
            .values(empty_allowed_at=None)
        )


def request_sync(conn: Connection, directory_id: str, at: datetime) -> bool:
    """Make a directory's sync due at ``at``; False when it has no connection."""
    table = google_connections
    return bool(
        conn.execute(
            update(table).where(table.c.directory_id == directory_id).values(next_sync_at=at)
        ).rowcount
    )


@frozen
class Channel:
    """A push notification channel Google holds open for a directory's users."""

    id: str
    directory_id: str
    event: str
    resource_id: str
    expires_at: datetime
    created_at: datetime


@frozen
class FoundChannel:
    channel: Channel
    token_hash: str


_CHANNEL_COLUMNS = [c for c in google_channels.c if c.name != "token_hash"]


def channels(conn: Connection, directory_id: str) -> list[Channel]:
    rows = conn.execute(
        select(*_CHANNEL_COLUMNS)
        .where(google_channels.c.directory_id == directory_id)
        .order_by(google_channels.c.created_at)
    )
    return [Channel(**row._mapping) for row in rows]


def add_channel(conn: Connection, channel: Channel, token_hash: str) -> None:
    conn.execute(google_channels.insert().values(**vars(channel), token_hash=token_hash))


def remove_channels(conn: Connection, directory_id: str, channel_ids: list[str]) -> None:
    conn.execute(
        delete(google_channels).where(
            google_channels.c.directory_id == directory_id, google_channels.c.id.in_(channel_ids)
        )
    )


def find_channel(conn: Connection, channel_id: str) -> FoundChannel | None:
    """The channel Google names in a notification, with its token's hash."""
    row = conn.execute(
        select(*_CHANNEL_COLUMNS, google_channels.c.token_hash).where(
            google_channels.c.id == channel_id
        )
    ).first()
    if row is None:
        return None
    values = dict(row._mapping)
    token_hash = values.pop("token_hash")
    return FoundChannel(Channel(**values), token_hash)


def key_census(conn: Connection) -> dict[str | None, int]:
    """How many directories' own credentials each key id protects (None: plain); a
    directory read with the operator's service account holds none."""
    column = google_connections.c.credentials
    return count_keys(conn.execute(select(column).where(column.is_not(None))).scalars())
