"""The event stream: published and held events, and how far background work has read it."""

from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table

from scimgate.store.tables.base import Document, Timestamp, Uuid, metadata


def _event_columns() -> list[Column[Any]]:
    return [
        Column("id", Uuid, nullable=False, unique=True),
        Column("organization_id", Uuid, nullable=False),
        Column("directory_id", Uuid, ForeignKey("directories.id"), nullable=False),
        Column("type", String(64), nullable=False),
        Column("resource_id", Uuid),
        Column("occurred_at", Timestamp(), nullable=False),
        Column("data", Document, nullable=False),
    ]


events = Table(
    "events",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    *_event_columns(),
    Column("published_at", Timestamp(), nullable=False),
    Column("position", BigInteger),
    Index(None, "position", unique=True),
    Index(None, "directory_id", "position"),
    Index(None, "organization_id", "position"),
    Index(None, "directory_id", "resource_id"),
    sqlite_autoincrement=True,
)
"""Published events, in the order the app reads them (``position``).

Written in the transaction of the change they announce (a transactional
outbox). ``seq`` numbers the rows as they are inserted; ``position`` is the
event's place in the stream, the ``sequence`` readers see and pass back as
their cursor: commit order within a directory (see ``store/events.py`` for how
PostgreSQL numbers it after commit; on SQLite it is the event's ``seq``).
Neither is ever reused, not even after retention removes old events, so a
cursor stays meaningful.
"""

held_events = Table(
    "held_events",
    metadata,
    Column("position", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    *_event_columns(),
    Index(None, "directory_id", "position"),
    sqlite_autoincrement=True,
)
"""Events of a directory whose delivery is held (safety valve, dry run), awaiting review."""

worker_cursors = Table(
    "worker_cursors",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False),
)
"""Positions background work has reached, e.g. the last event fanned out to webhooks."""
