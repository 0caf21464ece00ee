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

SQLite starts the log over, at its first frame, only when a write begins once
every frame of it is in the database file. A passive checkpoint copies the
frames that were there when it began, and under a steady stream of writes
more have always arrived by the time it ends: the log then never starts over
and grows by every page written (about 700 MB in 20 seconds of creates, each
new block of it zeroed by the kernel before SQLite's write). So the thread
copies again what arrived during its last pass, until a pass finds only a
few frames, then makes one more pass while it holds this process's write
turn: no write of the process appends meanwhile, so that pass copies the log's
last frames, and the next write starts the log over.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from threading import Event, Thread
from typing import Any

import structlog
from sqlalchemy import Engine

from scimgate.logging import failure
from scimgate.store.engine import set_autocheckpoint, takes_turns, writer

log = structlog.get_logger("scimgate.store")

CHECKPOINT_SECONDS = 0.5

FEW_FRAMES = 256
"""A pass that copied fewer frames than this (1 MiB of 4 KiB pages) ends the passes made
beside the writers: the next, with the write turn, has about as few to copy."""

PASSES_BESIDE_WRITERS = 4
"""The most passes beside the writers, should they append as fast as a pass copies."""


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
    """Copy the log into the database file so that the next write starts it over: passive
    checkpoints beside the writers, then one while no writer of this process may run,
    which copies the frames they appended meanwhile (all outside any transaction).

    A writer of another process, or a reader still on an older snapshot, can keep the
    last frames from being copied; the log then starts over after a later checkpoint."""
    connection = engine.raw_connection()
    try:
        copied = 0
        for _ in range(PASSES_BESIDE_WRITERS):
            before, copied = copied, _passive(connection.driver_connection)
            if copied - before < FEW_FRAMES:  # fewer, or the log was started over meanwhile
                break
    finally:
        connection.close()
    with writer(engine) as kept:
        _passive(kept.connection.driver_connection)


def _passive(driver: Any) -> int:
    """A passive checkpoint; the number of the log's frames now in the database file."""
    _busy, _frames, copied = driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(copied)
