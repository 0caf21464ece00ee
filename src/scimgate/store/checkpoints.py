"""SQLite: the WAL checkpointed by a thread of its own while a server runs.

By default the commit that takes SQLite's write-ahead log past a thousand pages
checkpoints it: it copies those pages into the database file and syncs the file
before it returns. A server commits on its event loop (``api.inline_requests``,
``api.log_batches``), and on a large database, whose pages lie far apart, that
copy held the loop for a hundred milliseconds and more: W2's p99 at a million
users was 215 ms against 12 ms at ten thousand. While a server runs, commits
therefore leave the log alone and a thread checkpoints it every
``CHECKPOINT_SECONDS``, passively: it takes no lock that a reader or a writer
waits for, and copies what no reader still needs.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from threading import Event, Thread

import structlog
from sqlalchemy import Engine

from scimgate.logging import failure
from scimgate.store.engine import set_autocheckpoint, takes_turns

log = structlog.get_logger("scimgate.store")

CHECKPOINT_SECONDS = 0.5


@contextmanager
def checkpoints_apart(engine: Engine) -> Iterator[None]:
    """SQLite: within the block, the WAL is checkpointed by a thread of its own rather than
    by commits; nothing changes on PostgreSQL."""
    if not takes_turns(engine):
        yield
        return
    set_autocheckpoint(engine, False)
    stop = Event()
    thread = Thread(
        target=_checkpointing, args=(engine, stop), name="sqlite-checkpoints", daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        set_autocheckpoint(engine, True)


def _checkpointing(engine: Engine, stop: Event) -> None:
    while not stop.wait(CHECKPOINT_SECONDS):
        try:
            checkpoint(engine)
        except Exception as exc:  # the next one may succeed; commits never depend on it
            log.warning("could not checkpoint the database", **failure(exc))


def checkpoint(engine: Engine) -> None:
    """A passive checkpoint, outside any transaction."""
    connection = engine.raw_connection()
    try:
        connection.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")  # type: ignore[union-attr]
    finally:
        connection.close()
