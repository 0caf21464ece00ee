"""Published and held events: appended in the transaction of their change, read in order.

On PostgreSQL a sequence hands out ``seq`` when a row is inserted, not when
its transaction commits, so a reader could see seq 11 before seq 10 commits
and then skip it. Publishing therefore takes a transaction-scoped advisory
lock first: transactions that publish commit one after another, and ``seq``
order is commit order. On SQLite writers are serialized already.

With encryption at rest on, an event's ``data`` is stored encrypted (bound to
the event's id and directory) and decrypted when read.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select, text, update

from scimgate.store.encryption import Keyring, key_id_of, keyring_of, refuse_plain_read
from scimgate.store.tables import events, held_events

DATA = "events.data"
"""Where an encrypted payload lives (part of its associated data), published or held."""

PUBLISH_LOCK = 0x5C1A_6A7E
"""The advisory lock key that orders publishing transactions on PostgreSQL."""


@dataclass(frozen=True)
class NewEvent:
    id: str
    organization_id: str
    directory_id: str
    type: str
    resource_id: str | None
    occurred_at: datetime
    data: dict[str, Any]


@dataclass(frozen=True)
class StoredEvent(NewEvent):
    seq: int


_PUBLISH = events.insert()


def publish(conn: Connection, new: Sequence[NewEvent], at: datetime) -> None:
    """Append events to the stream, in the given order (one ``executemany``: the rows are
    inserted one after another, so ``seq`` follows that order)."""
    if not new:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PUBLISH_LOCK})
    keyring = keyring_of(conn)
    conn.execute(_PUBLISH, [{**_row(keyring, event), "published_at": at} for event in new])


def _row(keyring: Keyring | None, event: NewEvent) -> dict[str, Any]:
    """An event's columns, its payload encrypted when encryption is on."""
    values = vars(event)
    if keyring is None:
        return values
    sealed = keyring.seal_document(event.data, DATA, event.directory_id, event.id)
    return {**values, "data": sealed}


def _opened(keyring: Keyring | None, row: Any) -> Any:
    """An event row's values, its payload decrypted."""
    values = row._mapping
    data = values["data"]
    if keyring is not None:
        opened = dict(values)
        opened["data"] = keyring.open_document(data, DATA, values["directory_id"], values["id"])
        return opened
    if data.__class__ is str:
        refuse_plain_read(DATA, data)
    return values


def hold(conn: Connection, new: Sequence[NewEvent]) -> None:
    """Keep events back from the app until an administrator releases or discards them."""
    if new:
        keyring = keyring_of(conn)
        conn.execute(held_events.insert(), [_row(keyring, event) for event in new])


def held(conn: Connection, directory_id: str) -> list[NewEvent]:
    """The directory's held events, in the order they were made."""
    rows = conn.execute(
        select(*_columns(held_events))
        .where(held_events.c.directory_id == directory_id)
        .order_by(held_events.c.position)
    )
    keyring = keyring_of(conn)
    return [NewEvent(**_opened(keyring, row)) for row in rows]


def held_count(conn: Connection, directory_id: str) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(held_events)
            .where(held_events.c.directory_id == directory_id)
        ).scalar_one()
    )


def drop_held(conn: Connection, directory_id: str) -> int:
    return conn.execute(
        delete(held_events).where(held_events.c.directory_id == directory_id)
    ).rowcount


def page(
    conn: Connection,
    after: int,
    limit: int,
    *,
    organization_id: str | None = None,
    directory_id: str | None = None,
    types: Sequence[str] = (),
) -> list[StoredEvent]:
    """Published events after a cursor, oldest first."""
    query = select(events.c.seq, *_columns(events)).where(events.c.seq > after)
    if organization_id is not None:
        query = query.where(events.c.organization_id == organization_id)
    if directory_id is not None:
        query = query.where(events.c.directory_id == directory_id)
    if types:
        query = query.where(events.c.type.in_(types))
    rows = conn.execute(query.order_by(events.c.seq).limit(limit))
    keyring = keyring_of(conn)
    return [StoredEvent(**_opened(keyring, row)) for row in rows]


def get(conn: Connection, event_id: str) -> StoredEvent | None:
    row = conn.execute(
        select(events.c.seq, *_columns(events)).where(events.c.id == event_id)
    ).first()
    return StoredEvent(**_opened(keyring_of(conn), row)) if row else None


def by_seqs(conn: Connection, seqs: Sequence[int]) -> dict[int, StoredEvent]:
    if not seqs:
        return {}
    rows = conn.execute(select(events.c.seq, *_columns(events)).where(events.c.seq.in_(seqs)))
    keyring = keyring_of(conn)
    return {row.seq: StoredEvent(**_opened(keyring, row)) for row in rows}


def last_seq(conn: Connection) -> int:
    """The newest sequence number published (0 before the first event)."""
    return int(conn.execute(select(func.coalesce(func.max(events.c.seq), 0))).scalar_one())


def first_seq(conn: Connection) -> int | None:
    """The oldest sequence number still kept, or None when the stream is empty."""
    found = conn.execute(select(func.min(events.c.seq))).scalar()
    return int(found) if found is not None else None


def purge_before(conn: Connection, cutoff: datetime) -> int:
    """Forget the events published before a time; returns the newest seq removed (0: none).

    Only a prefix of the stream goes, up to the first event published since
    the cutoff, so that a cursor is either still good or expired. Publication
    time counts, not ``occurred_at``: held events released today keep the time
    of their change, and must not take today's other events with them.
    """
    first_kept = conn.execute(
        select(events.c.seq).where(events.c.published_at >= cutoff).order_by(events.c.seq).limit(1)
    ).scalar()
    query = select(func.max(events.c.seq))
    if first_kept is not None:
        query = query.where(events.c.seq < first_kept)
    newest = conn.execute(query).scalar()
    if newest is None:
        return 0
    conn.execute(delete(events).where(events.c.seq <= newest))
    return int(newest)


def resource_events(conn: Connection, directory_id: str, resource_id: str) -> list[StoredEvent]:
    """Every published event about one resource, oldest first (a user's history)."""
    rows = conn.execute(
        select(events.c.seq, *_columns(events))
        .where(events.c.directory_id == directory_id, events.c.resource_id == resource_id)
        .order_by(events.c.seq)
    )
    keyring = keyring_of(conn)
    return [StoredEvent(**_opened(keyring, row)) for row in rows]


def redact(conn: Connection, directory_id: str, resource_id: str, data: dict[str, Any]) -> int:
    """Replace the payloads of every event about a resource (erasure of personal data)."""
    keyring = keyring_of(conn)
    count = 0
    for table in (events, held_events):
        about = (table.c.directory_id == directory_id, table.c.resource_id == resource_id)
        if keyring is None:
            count += conn.execute(update(table).where(*about).values(data=data)).rowcount
            continue
        # Each encrypted payload is bound to its event: one write per event.
        for event_id in conn.execute(select(table.c.id).where(*about)).scalars():
            sealed = keyring.seal_document(data, DATA, directory_id, event_id)
            conn.execute(update(table).where(table.c.id == event_id).values(data=sealed))
            count += 1
    return count


def open_payload(conn: Connection, directory_id: str, event_id: str, stored: Any) -> Any:
    """A payload as read raw from the table, decrypted when it is encrypted."""
    keyring = keyring_of(conn)
    if keyring is None:
        if isinstance(stored, str):
            refuse_plain_read(DATA, stored)
        return stored
    return keyring.open_document(stored, DATA, directory_id, event_id)


def seal_payload(conn: Connection, directory_id: str, event_id: str, data: Any) -> Any:
    """A payload as it is to be stored: encrypted when encryption is on."""
    keyring = keyring_of(conn)
    if keyring is None:
        return data
    return keyring.seal_document(data, DATA, directory_id, event_id)


def _columns(table: Any) -> list[Any]:
    c = table.c
    return [
        c.id,
        c.organization_id,
        c.directory_id,
        c.type,
        c.resource_id,
        c.occurred_at,
        c.data,
    ]


@dataclass(frozen=True)
class Resealed:
    """One batch of a rotation: the last position reached (None: done), rows changed."""

    last: int | None
    changed: int


def reseal(conn: Connection, keyring: Keyring, held_back: bool, after: int, limit: int) -> Resealed:
    """Encrypt up to ``limit`` payloads (published, or held back) under the newest key."""
    table = held_events if held_back else events
    key = held_events.c.position if held_back else events.c.seq
    rows = conn.execute(
        select(key, table.c.id, table.c.directory_id, table.c.data)
        .where(key > after)
        .order_by(key)
        .limit(limit)
        .with_for_update()
    ).all()
    changed = 0
    for position, event_id, directory_id, stored in rows:
        if keyring.key_id_of(stored) == keyring.newest.id:
            continue
        data = keyring.open_document(stored, DATA, directory_id, event_id)
        sealed = keyring.seal_document(data, DATA, directory_id, event_id)
        conn.execute(update(table).where(key == position).values(data=sealed))
        changed += 1
    return Resealed(int(rows[-1][0]) if rows else None, changed)


def key_census(conn: Connection, held_back: bool) -> dict[str | None, int]:
    """How many payloads each key id protects (None: plain)."""
    table = held_events if held_back else events
    census: dict[str | None, int] = {}
    for stored in conn.execute(select(table.c.data)).scalars():
        key_id = key_id_of(stored)
        census[key_id] = census.get(key_id, 0) + 1
    return census
