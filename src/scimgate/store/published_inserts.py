"""PostgreSQL: a new resource's row and its event written by one statement, in one round trip.

A create's transaction sent four statements (``BEGIN``, the row with its count, the
directory's lock with the event, ``COMMIT``), each a round trip that wakes the
database's backend and then the server's thread. Where the change is only that row
and its one event, one statement does all of it, and commits on its own
(autocommit): it inserts the row and counts it in the directory's total, then locks
the directory's row (it takes the directory's id from what the count returned, so it
runs after both, as publishing's lock comes after a transaction's writes, which keeps
the locks of concurrent changes in one order: ``tenants.lock_directory``) and
inserts the event into the stream when the directory delivers live, among the
held events otherwise. The statement succeeds whole or changes nothing: a taken
userName fails it as it fails the row's own insert.

Not for encrypted stores, whose users have e-mail hash rows of their own
(``store.email_hashes``), nor for SQLite, whose writes are grouped anyway
(``store.transactions.committed_together``).
"""

from datetime import datetime
from functools import cache

from sqlalchemy import Connection, Engine, select

from scimgate.store.column_codec import PLAIN
from scimgate.store.encryption import keyring_of_engine
from scimgate.store.events import PUBLISHED_COLUMNS, NewEvent, event_row, from_locked
from scimgate.store.prepared import Prepared
from scimgate.store.resource_writes import ResourceWrites
from scimgate.store.stored_resources import StoredResource
from scimgate.store.tables.event_stream import events, held_events
from scimgate.store.tables.resources import resource_counts
from scimgate.store.tables.tenancy import directories
from scimgate.store.tenants import LIVE

_EVENT = "event_"
"""The prefix of the event's parameters, whose names the row's columns share (``id``)."""


def available(engine: Engine) -> bool:
    """Whether a create can be written so: on PostgreSQL, without encryption at rest."""
    return engine.dialect.name == "postgresql" and keyring_of_engine(engine) is None


def insert_published(
    conn: Connection,
    directory_id: str,
    layout: ResourceWrites,
    resource: StoredResource,
    event: NewEvent,
    at: datetime,
) -> None:
    """Insert the resource's row and publish (or hold) its event, in one statement.
    ``conn`` is in autocommit: the statement is its own transaction. A directory that is
    gone fails the row's insert (its foreign key), as it does in a transaction."""
    row = {
        "directory_id": directory_id,
        **vars(resource),
        **layout.columns(PLAIN, directory_id, resource.id, resource.doc),
    }
    published = {f"{_EVENT}{key}": value for key, value in event_row(PLAIN, event).items()}
    _statement(layout).execute(conn, {**row, **published, f"{_EVENT}published_at": at})


@cache
def _statement(layout: ResourceWrites) -> Prepared:
    # The lock reads the directory's id from the count the row made, so that the row's
    # count is locked before the directory, as in every other change of the directory.
    counted = layout.counted_insert().returning(resource_counts.c.directory_id).cte("counted")
    locked = (
        select(directories)
        .where(directories.c.id == select(counted.c.directory_id).scalar_subquery())
        .with_for_update(key_share=True)
        .cte("locked")
    )

    held_columns = tuple(name for name in PUBLISHED_COLUMNS if name in held_events.c)
    to_stream = events.insert().from_select(
        PUBLISHED_COLUMNS,
        from_locked(locked, PUBLISHED_COLUMNS, _EVENT).where(locked.c.delivery == LIVE),
    )
    to_held = held_events.insert().from_select(
        held_columns, from_locked(locked, held_columns, _EVENT).where(locked.c.delivery != LIVE)
    )
    return Prepared(select(locked.c.id).add_cte(to_stream.cte("published"), to_held.cte("held")))
