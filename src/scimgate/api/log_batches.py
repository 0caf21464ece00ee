"""The provisioning log on SQLite: entries gathered and written on the event loop.

On PostgreSQL the log's writer thread (``service.operations.log_writer``) gathers the
entries of the moment and writes them while the loop goes on answering. On
SQLite that thread costs more than it saves, for the reason short requests run
on the loop (``api.inline_requests``): its work holds the interpreter lock
wherever it runs, and a thread writing beside the loop hands that lock back and
forth with it at every database call. Here the entries are gathered on the loop
by the writer thread's rule (a batch is written once no entry joined it for
``GATHER_SECONDS``, or once it gathered for ``GATHER_LIMIT_SECONDS``, or when it
is full) and written on the loop while this process's write turn is free. When
a thread has the turn, the batch waits for it without holding the loop. A batch
is at most ``LOOP_BATCH_LIMIT`` entries, so that writing one holds the loop for
a few milliseconds at most. A stopping server writes the batch gathering at once
and waits for those still waiting for the turn (``drain``).
"""

import asyncio

from sqlalchemy import Engine

from scimgate.api.loop_turns import with_turn
from scimgate.config import LogPolicy
from scimgate.service.operations import log_writer
from scimgate.service.operations.log_writer import write_entries
from scimgate.service.operations.provisioning_log import CapturedRequest

LOOP_BATCH_LIMIT = 64
"""Entries written in one transaction on the loop (about 4 ms of CPU at most)."""


class LoopBatches:
    """The entries of one engine's log, gathered and written on one event loop."""

    def __init__(self, engine: Engine, policy: LogPolicy, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._engine = engine
        self._policy = policy
        self._entries: list[CapturedRequest] = []
        self._written: asyncio.Future[None] | None = None
        """The future of the batch gathering now, completed once it is written."""
        self._unwritten: set[asyncio.Future[None]] = set()
        """The futures of the batches not written yet: gathering, or waiting for the turn."""
        self._began = 0.0
        self._seen = 0

    def submit(self, captured: CapturedRequest) -> "asyncio.Future[None]":
        """Queue an entry; the future completes once it is committed (or could not be).
        Entries written together share their future."""
        written = self._written
        if written is None:
            written = self._written = self.loop.create_future()
            self._unwritten.add(written)
            written.add_done_callback(self._unwritten.discard)
            self._began, self._seen = self.loop.time(), 0
            self.loop.call_later(log_writer.GATHER_SECONDS, self._gathering, written)
        self._entries.append(captured)
        if len(self._entries) >= LOOP_BATCH_LIMIT:
            self._close()
        return written

    async def drain(self) -> None:
        """Write the batch gathering now, and wait until every batch queued is written."""
        if self._written is not None:
            self._close()
        if self._unwritten:
            # ``wait``, not ``gather``: a drain cancelled leaves the batches to be written.
            await asyncio.wait(set(self._unwritten))

    def _gathering(self, written: "asyncio.Future[None]") -> None:
        if written is not self._written:  # written already: it filled up
            return
        gathered = len(self._entries)
        still = self.loop.time() - self._began < log_writer.GATHER_LIMIT_SECONDS
        if gathered != self._seen and still:
            self._seen = gathered
            self.loop.call_later(log_writer.GATHER_SECONDS, self._gathering, written)
            return
        self._close()

    def _close(self) -> None:
        entries, written = self._entries, self._written
        self._entries, self._written = [], None
        assert written is not None
        with_turn(self._engine, self.loop, lambda: self._write(entries, written))

    def _write(self, entries: list[CapturedRequest], written: "asyncio.Future[None]") -> None:
        try:
            write_entries(self._engine, entries, self._policy)
        finally:
            if not written.done():  # cancelled by a wait for it
                written.set_result(None)
