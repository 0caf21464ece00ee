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
few frames; then, once the log has grown past ``LOG_TO_START_OVER``, one
more pass is made while no writer of this process may run, which copies the
log's last frames, and the next write starts the log over.

That last pass is handed to whoever runs the process's writes (``LastPass``):
a server runs it on its event loop, between two writes, which it holds for
its copy and the two syncs around it (1 to 2 ms of CPU under W1's creates).
Made by this thread while it held the write turn, it held the turn for 2 to
8 ms, waiting for the interpreter lock both to take the turn and to leave it,
while reads that found the turn taken went to worker threads.
"""

from collections.abc import Callable, Iterator
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

LOG_TO_START_OVER = 8192
"""Frames (32 MiB of 4 KiB pages) past which the log is made to start over. Below, it is
left to start over at a pause in the writes, as it does where they come in bursts (a
provisioning log's batches): the last pass syncs the log and the database file on the
event loop, and made at every checkpoint it cost W2's lookups a tenth of their rate."""

LastPass = Callable[[Callable[[], None]], None]
"""Runs a checkpoint's last pass (the function given) where no writer of this process runs
meanwhile; it may return before the pass has run."""


def _in_this_thread(last_pass: Callable[[], None]) -> None:
    last_pass()  # the pass takes the write turn itself


@contextmanager
def checkpoints_apart(engine: Engine, last_pass: LastPass = _in_this_thread) -> Iterator[None]:
    """SQLite: within the block, the WAL is checkpointed by a thread of its own rather than
    by commits, each checkpoint's last pass run by ``last_pass``; nothing changes on
    PostgreSQL."""
    if not takes_turns(engine):
        yield
        return
    set_autocheckpoint(engine, False)
    stop = Event()
    thread = Thread(
        target=_checkpointing,
        args=(engine, stop, last_pass),
        name="sqlite-checkpoints",
        daemon=True,
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        set_autocheckpoint(engine, True)


def _checkpointing(engine: Engine, stop: Event, last_pass: LastPass) -> None:
    while not stop.wait(CHECKPOINT_SECONDS):
        try:
            checkpoint(engine, last_pass)
        except Exception as exc:  # the next one may succeed; commits never depend on it
            log.warning("could not checkpoint the database", **failure(exc))


def checkpoint(engine: Engine, last_pass: LastPass) -> None:
    """Copy the log into the database file: passive checkpoints beside the writers, then,
    if the log has grown past ``LOG_TO_START_OVER``, one run by ``last_pass`` where no
    writer of this process runs, which copies the frames they appended meanwhile, so that
    the next write starts the log over (all outside any transaction).

    A writer of another process, or a reader still on an older snapshot, can keep the
    last frames from being copied; the log then starts over after a later checkpoint."""
    connection = engine.raw_connection()
    try:
        frames = copied = 0
        for _ in range(PASSES_BESIDE_WRITERS):
            before = copied
            frames, copied = _passive(connection.driver_connection)
            if copied - before < FEW_FRAMES:  # fewer, or the log was started over meanwhile
                break
    finally:
        connection.close()
    if frames >= LOG_TO_START_OVER:
        last_pass(lambda: _last_pass(engine))


def _last_pass(engine: Engine) -> None:
    with writer(engine) as kept:
        _passive(kept.connection.driver_connection)


def _passive(driver: Any) -> tuple[int, int]:
    """A passive checkpoint: the frames in the log, and how many of them are now in the
    database file."""
    _busy, frames, copied = driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(frames), int(copied)
