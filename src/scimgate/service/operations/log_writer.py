"""Writing provisioning-log entries in groups: one transaction for all that arrived together.

Every SCIM request leaves a log entry. Written one transaction each, the log
would double the write transactions of a provisioning burst, and on SQLite each
of them would wait its turn for the single writer. Instead, requests hand their
entry to one writer thread (on PostgreSQL; a server on SQLite gathers them by
the same rule on its event loop, ``api.log_batches``); entries that arrive while
a batch is being written go together into the next one. Alone, an entry waits a
few milliseconds (``GATHER_SECONDS``) for the entries of the requests that
follow, so that even a client sending one request at a time shares
transactions: alone, each entry cost a transaction of
its own (about 300 µs of CPU on SQLite, against some 70 µs in a batch) and a
wake-up of the writer. While entries keep arriving, the batch keeps gathering
them, a few milliseconds more at a time, up to ``GATHER_LIMIT_SECONDS``: a
client sending its requests one after another without pause then shares a
transaction among a few dozen of them rather than a handful, and a transaction's
cost grows much slower than its rows. Under a burst, the batches grow and the
transactions do not. No request waits for its entry: a stopping server has the
entries still queued written at once (``drain``), without more gathering.

The entries of one batch share one future, completed once the batch is written.
"""

from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from threading import Condition, Event, Thread

import structlog
from sqlalchemy import Engine

from scimgate.config import LogPolicy
from scimgate.logging import failure
from scimgate.service.operations.provisioning_log import CapturedRequest, record

log = structlog.get_logger("scimgate.provisioning_log")

BATCH_LIMIT = 500
GATHER_SECONDS = 0.005
"""How long the first entry of a batch waits for others before the batch is written."""

GATHER_LIMIT_SECONDS = 0.02
"""How long a batch may keep gathering while entries keep arriving."""

IDLE_SECONDS = 10.0
"""The writer thread ends after this long without work, and starts again with the next entry."""


@dataclass
class _Batch:
    """Entries to write in one transaction, and the future of them all."""

    entries: list[CapturedRequest] = field(default_factory=list)
    written: "Future[None]" = field(default_factory=Future)


class LogWriter:
    """The provisioning log's writer for one engine."""

    def __init__(self, engine: Engine, policy: LogPolicy) -> None:
        self._engine = engine
        self._policy = policy
        self._batches: deque[_Batch] = deque()
        """Waiting to be written, oldest first; entries join the last one."""
        self._changed = Condition()
        self._running = False
        self._newest: Future[None] | None = None
        """The future of the batch queued last: the batches are written in their order."""
        self._hurry = Event()
        """Set by ``drain``: batches are written without gathering, until the newest is."""

    def submit(self, captured: CapturedRequest) -> "Future[None]":
        """Queue an entry; the future completes once it is committed (or could not be).

        Entries written together share their future.
        """
        with self._changed:
            if not self._batches or len(self._batches[-1].entries) >= BATCH_LIMIT:
                self._batches.append(_Batch())
                self._newest = self._batches[-1].written
                self._changed.notify()
            batch = self._batches[-1]
            batch.entries.append(captured)
            if not self._running:
                self._running = True
                Thread(target=self._run, name="provisioning-log", daemon=True).start()
        return batch.written

    def drain(self) -> "Future[None] | None":
        """Have the entries queued so far written without gathering more; the future that
        completes once they are (None when every entry is written already)."""
        with self._changed:
            newest = self._newest
            if newest is None or newest.done():
                return None
            self._hurry.set()
        return newest

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            write_entries(self._engine, batch.entries, self._policy)
            if not batch.written.done():
                batch.written.set_result(None)
            with self._changed:
                if batch.written is self._newest:
                    self._hurry.clear()

    def _next_batch(self) -> _Batch | None:
        with self._changed:
            if not self._changed.wait_for(lambda: self._batches, timeout=IDLE_SECONDS):
                self._running = False
                return None
        return self._gathered()

    def _gathered(self) -> _Batch:
        """The oldest batch, once no entry joined it for ``GATHER_SECONDS`` (or it is full,
        or it gathered for ``GATHER_LIMIT_SECONDS``, or a drain hurries it)."""
        with self._changed:
            gathered = len(self._batches[0].entries)
        for _ in range(round(GATHER_LIMIT_SECONDS / GATHER_SECONDS)):
            if self._hurry.wait(GATHER_SECONDS):
                break
            with self._changed:
                oldest = self._batches[0]
                if len(oldest.entries) in (gathered, BATCH_LIMIT):
                    break
                gathered = len(oldest.entries)
        with self._changed:
            return self._batches.popleft()


def write_entries(engine: Engine, entries: list[CapturedRequest], policy: LogPolicy) -> None:
    """Write a batch in one transaction; when the database refuses it, each entry alone, so
    that one entry it refuses costs only itself (and is logged as lost)."""
    try:
        record(engine, entries, policy)
    except Exception as exc:
        if len(entries) > 1:
            for each in entries:
                write_entries(engine, [each], policy)
            return
        log.error(
            "could not write the provisioning log",
            request_id=entries[0].request_id,
            directory_id=entries[0].directory.id,
            **failure(exc),
        )
