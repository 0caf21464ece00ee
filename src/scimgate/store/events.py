"""Published and held events: appended in the transaction of their change, read in order.

Readers follow ``position``, the event's place in the stream: the ``sequence``
the events API shows and takes back as a cursor, the webhook fan-out's
position, a delivery's ``event_seq``. ``seq`` only numbers rows as they are
inserted.

On SQLite writers are serialized, so ``seq`` order is commit order: an event
is inserted with its ``seq`` as its position.

On PostgreSQL a sequence hands out ``seq`` when a row is inserted, not when its
transaction commits: T1 takes seq 10, T2 takes 11 and commits first, and a
reader that saw 11 would skip 10 for ever. Writers do not wait for each other
to prevent that (the stream used to take one lock for the whole database in
every publishing transaction, so writes of every directory committed one after
another). An event is inserted without a position, and positions are given
after commit by :func:`number_committed`, which readers run before they read:

* Numbering transactions run one at a time (they lock the ``events.numbered``
  row of ``worker_cursors``, which holds the last position given). Each numbers,
  in ``seq`` order, every event without a position that its snapshot sees (all
  committed), from the last position given plus one, and commits. So positions
  become visible in increasing ranges: a snapshot that sees one numbering
  transaction sees every earlier one, and the positions any reader sees are all
  the positions given so far, without a hole. An event not yet numbered gets a
  position above every one that exists, so above any cursor handed out: a
  reader that reads ``position > cursor`` in order skips nothing and reads
  nothing twice (a position is given once: only where there is none).
* Within a directory, positions follow commit order. Every publishing
  transaction holds its directory's row lock (``tenants.lock_directory``,
  ``FOR NO KEY UPDATE``, taken by the insert's own statement when it publishes
  one event: :func:`publish_if_live`) from before its first insert into
  ``events`` until it ends, so a directory's transactions insert their events
  one after another, each after the previous one committed: ``seq`` order is
  commit order within the directory. When an event is numbered, every earlier
  event of its directory committed before it, so is numbered in the same
  transaction (ordered by ``seq``) or an earlier one (lower positions).
* Across directories, positions follow the order in which events were numbered,
  the same for every reader, which is all the stream promises there.

The lock numbering takes is never taken by writers: a transaction holding a
write open in one directory delays no other directory's commit.

With encryption at rest on, an event's ``data`` is stored encrypted (bound to
the event's id and directory) and decrypted when read.
"""

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.sql.elements import ColumnClause

from scimgate.events.encoding import Payload
from scimgate.records import frozen
from scimgate.store import progress
from scimgate.store.column_codec import ColumnCodec, codec_of
from scimgate.store.encryption import Keyring, Resealed, count_keys
from scimgate.store.errors import NotFound
from scimgate.store.prepared import Prepared
from scimgate.store.tables.event_stream import events, held_events
from scimgate.store.tenants import LIVE, LOCKED_DIRECTORY, Directory, lock_directory

DATA = "events.data"
"""Where an encrypted payload lives (part of its associated data), published or held."""

NUMBERED = "events.numbered"
"""The ``worker_cursors`` row of the last position given (PostgreSQL); locking it
makes numbering transactions run one at a time."""


@frozen
class NewEvent:
    id: str
    organization_id: str
    directory_id: str
    type: str
    resource_id: str | None
    occurred_at: datetime
    data: Payload
    """JSON values, or, as a use case records it, their text (``events.encoding``)."""


@frozen
class ReadEvent(NewEvent):
    """An event read back from its row: its payload as JSON values."""

    data: dict[str, Any]


@frozen
class StoredEvent(ReadEvent):
    seq: int
    """The event's position in the stream (the ``position`` column, not the row's ``seq``)."""


PUBLISHED_COLUMNS = (*(field.name for field in fields(NewEvent)), "published_at")

_PUBLISH = Prepared(events.insert().inline(), PUBLISHED_COLUMNS)
"""PostgreSQL: an event inserted without its position (``inline``: its ``seq`` is not
read back)."""

_NEXT_ROW: ColumnClause[int] = literal_column(
    "(SELECT coalesce(max(seq), 0) + 1 FROM sqlite_sequence WHERE name = 'events')"
)
"""SQLite: the ``seq`` the next inserted event gets (``AUTOINCREMENT`` keeps the last one given
in ``sqlite_sequence``)."""

_PUBLISH_NUMBERED = Prepared(
    events.insert().inline().values(seq=_NEXT_ROW, position=_NEXT_ROW), PUBLISHED_COLUMNS
)
"""SQLite: an event inserted with its ``seq`` as its position, in one statement."""


def from_locked(locked: Any, columns: Sequence[str], prefix: str = "") -> Select[Any]:
    """An event's values for an insert of ``columns`` in the statement that locked its
    directory's row (``locked``, a CTE of ``LOCKED_DIRECTORY``'s columns): the directory's
    id from that row, every other value the parameter named by its column (after
    ``prefix``)."""
    return select(
        *(
            locked.c.id
            if name == "directory_id"
            else bindparam(f"{prefix}{name}", type_=events.c[name].type)
            for name in columns
        )
    )


_LOCKED = LOCKED_DIRECTORY.cte("locked")

_LOCK_AND_PUBLISH = Prepared(
    select(_LOCKED).add_cte(
        insert(events)
        .from_select(
            PUBLISHED_COLUMNS,
            from_locked(_LOCKED, PUBLISHED_COLUMNS).where(_LOCKED.c.delivery == LIVE),
        )
        .cte("published")
    )
)
"""PostgreSQL: the directory's row locked and answered, and the event inserted from it, in one
statement (see :func:`publish_if_live`)."""

_POSITION = events.c.position.label("seq")
"""What readers get as an event's ``seq``: its position in the stream."""


def publish(conn: Connection, new: Sequence[NewEvent], at: datetime) -> None:
    """Append events to the stream, in the given order (one ``executemany``: the rows are
    inserted one after another, so ``seq`` follows that order).

    The caller holds the row lock of the events' directory (``tenants.lock_directory``)
    until its transaction ends: that is what keeps a directory's events in commit order.
    """
    if not new:
        return
    codec = codec_of(conn)
    insert = _PUBLISH if conn.dialect.name == "postgresql" else _PUBLISH_NUMBERED
    insert.execute_each(conn, [{**event_row(codec, event), "published_at": at} for event in new])


def publish_if_live(
    conn: Connection, event: NewEvent, at: datetime, seen: Directory | None = None
) -> Directory:
    """Lock the event's directory (:func:`scimgate.store.tenants.lock_directory`, with
    ``seen`` as it takes it) and publish the event if the directory delivers live; the
    directory as locked, so that a caller holds the event back when it does not.

    On PostgreSQL this is one statement, one round trip where the lock and the insert
    took two: the insert reads the row the lock answered, so it runs once the lock is
    held, and only if that row (the newest, once another holder has committed) says
    ``live``. ``NotFound`` when there is no such directory.
    """
    if conn.dialect.name != "postgresql":
        directory = lock_directory(conn, event.directory_id, seen)
        if directory.delivery == LIVE:
            publish(conn, [event], at)
        return directory
    row = _LOCK_AND_PUBLISH.first_mapping(
        conn, {**event_row(codec_of(conn), event), "published_at": at}
    )
    if row is None:
        raise NotFound("directory", event.directory_id)
    return Directory(**row)


_UNNUMBERED = select(exists().where(events.c.position.is_(None)))

_NUMBER = text(
    """
    WITH locked AS (
        SELECT seq FROM events WHERE position IS NULL ORDER BY seq FOR UPDATE
    ), todo AS (
        SELECT seq, row_number() OVER (ORDER BY seq) AS n FROM locked
    ), done AS (
        UPDATE events SET position = :last + todo.n FROM todo
        WHERE events.seq = todo.seq AND events.position IS NULL
        RETURNING events.position
    )
    SELECT count(*), max(position) FROM done
    """
)


def number_committed(conn: Connection) -> int:
    """Give stream positions to the committed events that have none (PostgreSQL); how many.

    Run it in a transaction of its own, committed before reading by position
    (see the module's docstring). SQLite numbers events as they are inserted.
    The rows are locked in ``seq`` order, as key rotation locks them, so that the
    two never deadlock.
    """
    if conn.dialect.name != "postgresql" or not conn.execute(_UNNUMBERED).scalar():
        return 0
    last = progress.lock(conn, NUMBERED)
    # The lock waited for any other numbering to commit; this statement's snapshot sees it.
    numbered, newest = conn.execute(_NUMBER, {"last": last}).one()
    if numbered:
        progress.advance(conn, NUMBERED, int(newest))
    return int(numbered)


def event_row(codec: ColumnCodec, event: NewEvent) -> dict[str, Any]:
    """An event's columns, its payload as stored (encrypted when encryption is on)."""
    sealed = codec.seal_document(event.data, DATA, event.directory_id, event.id)
    return {**vars(event), "data": sealed}


def opened_row(codec: ColumnCodec, row: Any) -> dict[str, Any]:
    """An event row's values, its payload opened."""
    opened = dict(row._mapping)
    opened["data"] = codec.open_document(opened["data"], DATA, opened["directory_id"], opened["id"])
    return opened


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
    query = select(_POSITION, *event_columns(events)).where(events.c.position > after)
    if organization_id is not None:
        query = query.where(events.c.organization_id == organization_id)
    if directory_id is not None:
        query = query.where(events.c.directory_id == directory_id)
    if types:
        query = query.where(events.c.type.in_(types))
    rows = conn.execute(query.order_by(events.c.position).limit(limit))
    codec = codec_of(conn)
    return [StoredEvent(**opened_row(codec, row)) for row in rows]


def get(conn: Connection, event_id: str) -> StoredEvent | None:
    """A published event that has its position in the stream, by id."""
    row = conn.execute(
        select(_POSITION, *event_columns(events)).where(
            events.c.id == event_id, events.c.position.is_not(None)
        )
    ).first()
    return StoredEvent(**opened_row(codec_of(conn), row)) if row else None


def by_seqs(conn: Connection, seqs: Sequence[int]) -> dict[int, StoredEvent]:
    """The events still kept at these positions in the stream."""
    if not seqs:
        return {}
    rows = conn.execute(
        select(_POSITION, *event_columns(events)).where(events.c.position.in_(seqs))
    )
    codec = codec_of(conn)
    return {row.seq: StoredEvent(**opened_row(codec, row)) for row in rows}


def last_seq(conn: Connection) -> int:
    """The newest position in the stream (0 before the first event)."""
    return int(conn.execute(select(func.coalesce(func.max(events.c.position), 0))).scalar_one())


def purge_before(conn: Connection, cutoff: datetime) -> int:
    """Forget the events published before a time; returns the newest position removed (0: none).

    Only a prefix of the stream goes, up to the first event published since
    the cutoff, so that a cursor is either still good or expired. Publication
    time counts, not ``occurred_at``: held events released today keep the time
    of their change, and must not take today's other events with them. Events
    not numbered yet stay (run :func:`number_committed` first).

    The first event kept is found by walking the stream from its oldest event, so
    that only the events about to go are read (migration 0026).
    """
    position = events.c.position
    first_kept = conn.execute(
        select(position).where(events.c.published_at >= cutoff).order_by(position).limit(1)
    ).scalar()
    query = select(func.max(position))
    if first_kept is not None:
        query = query.where(position < first_kept)
    newest = conn.execute(query).scalar()
    if newest is None:
        return 0
    conn.execute(delete(events).where(position <= newest))
    return int(newest)


def resource_events(conn: Connection, directory_id: str, resource_id: str) -> list[StoredEvent]:
    """Every published event about one resource that has its position, oldest first."""
    rows = conn.execute(
        select(_POSITION, *event_columns(events))
        .where(
            events.c.directory_id == directory_id,
            events.c.resource_id == resource_id,
            events.c.position.is_not(None),
        )
        .order_by(events.c.position)
    )
    codec = codec_of(conn)
    return [StoredEvent(**opened_row(codec, row)) for row in rows]


def redact(conn: Connection, directory_id: str, resource_id: str, data: dict[str, Any]) -> int:
    """Replace the payloads of every event about a resource (erasure of personal data)."""
    codec = codec_of(conn)
    count = 0
    for table in (events, held_events):
        about = (table.c.directory_id == directory_id, table.c.resource_id == resource_id)
        if not codec.sealed:
            count += conn.execute(update(table).where(*about).values(data=data)).rowcount
            continue
        # Each encrypted payload is bound to its event: one write per event.
        for event_id in conn.execute(select(table.c.id).where(*about)).scalars():
            sealed = codec.seal_document(data, DATA, directory_id, event_id)
            conn.execute(update(table).where(table.c.id == event_id).values(data=sealed))
            count += 1
    return count


def open_payload(conn: Connection, directory_id: str, event_id: str, stored: Any) -> Any:
    """A payload as read raw from the table, decrypted when it is encrypted."""
    return codec_of(conn).open_document(stored, DATA, directory_id, event_id)


def seal_payload(conn: Connection, directory_id: str, event_id: str, data: Any) -> Any:
    """A payload as it is to be stored: encrypted when encryption is on."""
    return codec_of(conn).seal_document(data, DATA, directory_id, event_id)


def event_columns(table: Any) -> list[Any]:
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


def reseal(
    conn: Connection, keyring: Keyring, held_back: bool, after: int, limit: int
) -> Resealed[int]:
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
    return count_keys(conn.execute(select(table.c.data)).scalars())
