"""Events held back from the app (the safety valve tripped, or a dry run), awaiting review.

They wait in ``held_events`` in the order they were made; releasing publishes them in that
order, discarding drops them. The review reads how many there are, over which span of time,
of which types, and a sample of the users they would deprovision.
"""

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import Connection, delete, func, select

from scimgate.records import frozen
from scimgate.store.column_codec import codec_of
from scimgate.store.events import NewEvent, ReadEvent, event_columns, event_row, opened_row
from scimgate.store.tables.event_stream import held_events


@frozen
class HeldOverview:
    """What a directory holds back: how many events, made between when, of which types."""

    count: int
    first_at: datetime | None
    last_at: datetime | None
    by_type: dict[str, int]


def hold(conn: Connection, new: Sequence[NewEvent]) -> None:
    """Keep events back from the app until an administrator releases or discards them."""
    if new:
        codec = codec_of(conn)
        conn.execute(held_events.insert(), [event_row(codec, event) for event in new])


def held(conn: Connection, directory_id: str) -> list[ReadEvent]:
    """The directory's held events, in the order they were made."""
    rows = conn.execute(
        select(*event_columns(held_events))
        .where(held_events.c.directory_id == directory_id)
        .order_by(held_events.c.position)
    )
    codec = codec_of(conn)
    return [ReadEvent(**opened_row(codec, row)) for row in rows]


def held_count(conn: Connection, directory_id: str) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(held_events)
            .where(held_events.c.directory_id == directory_id)
        ).scalar_one()
    )


def overview(conn: Connection, directory_id: str) -> HeldOverview:
    """Counts by type and the first and last moments, in one pass over the directory's rows."""
    rows = conn.execute(
        select(
            held_events.c.type,
            func.count(),
            func.min(held_events.c.occurred_at),
            func.max(held_events.c.occurred_at),
        )
        .where(held_events.c.directory_id == directory_id)
        .group_by(held_events.c.type)
    ).all()
    firsts = [row[2] for row in rows]
    lasts = [row[3] for row in rows]
    return HeldOverview(
        count=sum(int(row[1]) for row in rows),
        first_at=min(firsts) if firsts else None,
        last_at=max(lasts) if lasts else None,
        by_type={str(row[0]): int(row[1]) for row in sorted(rows, key=lambda row: row[0])},
    )


def first_of_types(
    conn: Connection, directory_id: str, types: Collection[str], limit: int
) -> list[ReadEvent]:
    """The first ``limit`` held events of these types, in the order they were made."""
    rows = conn.execute(
        select(*event_columns(held_events))
        .where(held_events.c.directory_id == directory_id, held_events.c.type.in_(list(types)))
        .order_by(held_events.c.position)
        .limit(limit)
    )
    codec = codec_of(conn)
    return [ReadEvent(**opened_row(codec, row)) for row in rows]


def drop_held(conn: Connection, directory_id: str) -> int:
    return conn.execute(
        delete(held_events).where(held_events.c.directory_id == directory_id)
    ).rowcount
