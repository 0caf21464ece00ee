"""A pulled directory's provisioning log: an entry per call to the source and per sync.

Every entry of one sync carries the sync's id as its request id, so the log
shows a sync and the calls it made together. An entry keeps how many resources
an answer held, never the answer: it holds the customer's people.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from scimgate.service.directory_sync.google_api import USER_AGENT, ApiCall
from scimgate.store import provisioning_logs
from scimgate.store.ids import new_id, utcnow
from scimgate.store.provisioning_logs import LogEntry
from scimgate.store.transactions import writing

FLUSH_EVERY = 50
CLIENT = "google"
SYNC_METHOD = "SYNC"
SYNC_PATH = "/google-workspace/sync"


@dataclass
class SyncLog:
    """Collects one sync's entries and writes them in batches."""

    engine: Engine
    directory_id: str
    sync_id: str = field(default_factory=new_id)
    calls: int = 0
    _pending: list[LogEntry] = field(default_factory=list)

    def call(self, call: ApiCall) -> None:
        self.calls += 1
        self._add(
            call.method,
            call.path,
            call.query,
            call.status,
            call.latency_ms,
            {"items": call.items},
            call.error,
        )
        if len(self._pending) >= FLUSH_EVERY:
            self.flush()

    def finished(
        self, status: int, latency_ms: int, counts: dict[str, int], error: str | None
    ) -> None:
        """The sync's own entry, written with what is pending."""
        self._add(SYNC_METHOD, SYNC_PATH, "", status, latency_ms, counts, error)
        self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        with writing(self.engine) as conn:
            provisioning_logs.insert(conn, self._pending)
        self._pending = []

    def _add(
        self,
        method: str,
        path: str,
        query: str,
        status: int,
        latency_ms: int,
        answer: dict[str, Any],
        error: str | None,
    ) -> None:
        self._pending.append(
            LogEntry(
                id=new_id(),
                directory_id=self.directory_id,
                request_id=self.sync_id,
                received_at=utcnow(),
                method=method,
                path=path,
                query=query[:4096] or None,
                status=status,
                latency_ms=latency_ms,
                client=CLIENT,
                user_agent=USER_AGENT,
                scim_type=None,
                error_detail=error[:2048] if error else None,
                resource_type=None,
                resource_id=None,
                user_name=None,
                request_body=None,
                response_body=answer,
                diagnosis=None,
            )
        )
