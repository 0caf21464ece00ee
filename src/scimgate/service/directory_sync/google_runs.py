"""Running a pulled Google Workspace directory's syncs: one now, or each as it falls due.

Any number of workers may run against one database: a worker leases the most
overdue directory (``store.google_connections.claim_due``), syncs it, records how
it went and when the next one is due, and releases it. The lease is renewed
while the sync runs, so a long sync keeps it and a dead worker's lapses.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Engine

from scimgate.config import GoogleSettings
from scimgate.logging import failure
from scimgate.records import frozen
from scimgate.scim.google_workspace import ScopeKind, SyncScope
from scimgate.scim.limits import Limits
from scimgate.service.directories import existing_directory
from scimgate.service.directory_sync.google_api import ApiCall, DirectoryApi, GoogleApiError
from scimgate.service.directory_sync.google_sync import (
    EmptyAccount,
    SyncCounts,
    apply,
    read_account,
)
from scimgate.service.directory_sync.google_watch import keep_watching, notification_address
from scimgate.service.directory_sync.sync_log import SyncLog
from scimgate.service.provisioning.scope import Scope
from scimgate.store import google_connections
from scimgate.store.google_connections import GoogleConnection
from scimgate.store.ids import utcnow
from scimgate.store.transactions import reading, writing

log = structlog.get_logger("scimgate.directory_sync")

LEASE = timedelta(minutes=5)
RENEW_SECONDS = 60.0
IDLE_SECONDS = 1.0
CONCURRENCY = 2
"""Directories one worker syncs at the same time."""


@frozen
class SyncReport:
    counts: SyncCounts
    error: str | None
    """Why the sync failed or refused part of the account, in words; None when all went in."""

    status: int
    """200, or the status Google (or the sync) failed with."""


class MissingKey(GoogleApiError):
    """The directory has no key of its own and the operator configured none."""


def operator_key(settings: GoogleSettings) -> dict[str, Any] | None:
    """The operator's service account key, when one is configured."""
    if settings.service_account_key_file is None:
        return None
    try:
        key = json.loads(Path(settings.service_account_key_file).read_text())
    except (OSError, ValueError) as exc:
        raise GoogleApiError(
            f"SCIMGATE_GOOGLE_SERVICE_ACCOUNT_KEY_FILE cannot be read as a JSON key: {exc}", 500
        ) from None
    if not isinstance(key, dict):
        raise GoogleApiError("SCIMGATE_GOOGLE_SERVICE_ACCOUNT_KEY_FILE holds no JSON key", 500)
    return key


def directory_api(
    connection: GoogleConnection,
    key: dict[str, Any] | None,
    settings: GoogleSettings,
    on_call: Callable[[ApiCall], None] = lambda call: None,
) -> DirectoryApi:
    """The Directory API as the connection reaches it: its own key, else the operator's."""
    key = key or operator_key(settings)
    if key is None:
        raise MissingKey(
            "this directory has no service account key, and the operator configured no "
            "service account of its own (SCIMGATE_GOOGLE_SERVICE_ACCOUNT_KEY_FILE)",
            400,
        )
    return DirectoryApi(key, connection.admin_email, connection.customer_id, settings, on_call)


def sync_directory(
    engine: Engine,
    settings: GoogleSettings,
    directory_id: str,
    heartbeat: Callable[[], None] = lambda: None,
) -> SyncReport:
    """Read the directory's Google account and write the difference; never raises for Google."""
    with reading(engine) as conn:
        directory = existing_directory(conn, directory_id)
        connection = google_connections.get(conn, directory_id)
        key = google_connections.credentials(conn, directory_id)
    if connection is None:
        raise GoogleApiError(f"directory {directory_id} is not connected to Google", 404)
    scope = Scope(engine, directory, f"/scim/v2/{directory_id}", Limits())
    sync_scope = SyncScope(ScopeKind(connection.scope_kind), tuple(connection.scope_values))
    sync_log = SyncLog(engine, directory_id)
    counts = SyncCounts()
    started = time.perf_counter()
    error: str | None = None
    status = 200

    def on_call(call: ApiCall) -> None:
        sync_log.call(call)
        heartbeat()  # reading a large account takes long too: the lease is kept meanwhile

    try:
        with directory_api(connection, key, settings, on_call) as api:
            try:
                account = read_account(api, sync_scope)
            finally:
                counts.retries = api.retries
            sync_log.flush()
            outcome = apply(
                scope, account, heartbeat, empty_allowed=connection.empty_allowed_at is not None
            )
            if connection.empty_refused_at or connection.empty_allowed_at:
                with writing(engine) as conn:
                    google_connections.completed(conn, directory_id, connection.empty_allowed_at)
            address = notification_address(settings.public_url)
            if address is not None:
                keep_watching(engine, api, directory_id, address)
        outcome.counts.retries = counts.retries
        counts = outcome.counts
        if outcome.refusals:
            error = f"{counts.refused} refused: " + "; ".join(outcome.refusals)
    except GoogleApiError as exc:
        error, status = str(exc), exc.status
    except EmptyAccount as exc:
        error, status = str(exc), 409
        with writing(engine) as conn:
            google_connections.refused_empty(conn, directory_id, utcnow())
    counts.api_calls = sync_log.calls
    elapsed = round((time.perf_counter() - started) * 1000)
    sync_log.finished(status, elapsed, counts.as_dict(), error)
    return SyncReport(counts, error, status)


def run_due(engine: Engine, settings: GoogleSettings, owner: str) -> bool:
    """Sync the most overdue directory, if one is due; True when one was."""
    started = utcnow()
    with reading(engine) as conn:
        if not google_connections.any_due(conn, started):
            return False
    with writing(engine) as conn:
        directory_id = google_connections.claim_due(conn, owner, started, started + LEASE)
    if directory_id is None:
        return False
    renewed = time.monotonic()

    def heartbeat() -> None:
        nonlocal renewed
        if time.monotonic() - renewed >= RENEW_SECONDS:
            with writing(engine) as conn:
                google_connections.renew(conn, directory_id, owner, utcnow() + LEASE)
            renewed = time.monotonic()

    run_and_record(engine, settings, directory_id, owner, started, heartbeat)
    return True


def run_and_record(
    engine: Engine,
    settings: GoogleSettings,
    directory_id: str,
    owner: str | None = None,
    started: datetime | None = None,
    heartbeat: Callable[[], None] = lambda: None,
) -> SyncReport:
    """Sync a directory and record how it went, and when the next sync is due.

    ``owner`` is the worker holding the directory's lease, released here; None for a
    sync run outside the workers (``scimgate google sync --here``).
    """
    started = started or utcnow()
    try:
        report = sync_directory(engine, settings, directory_id, heartbeat)
    except Exception as exc:
        log.error("directory sync failed", directory=directory_id, **failure(exc))
        report = SyncReport(SyncCounts(), f"the sync failed unexpectedly: {exc}", 500)
    with reading(engine) as conn:
        connection = google_connections.get(conn, directory_id)
    interval = timedelta(minutes=connection.interval_minutes if connection else 5.0)
    finished = utcnow()
    with writing(engine) as conn:
        google_connections.finish(
            conn,
            directory_id,
            owner,
            started_at=started,
            at=finished,
            next_sync_at=finished + interval,
            counts=report.counts.as_dict(),
            error=report.error,
        )
    log.info(
        "directory synced",
        directory=directory_id,
        status=report.status,
        error=report.error,
        **report.counts.as_dict(),
    )
    return report


class PullLoop:
    """Syncs pulled directories as they fall due, ``CONCURRENCY`` at a time, until told to
    stop: a long sync of a large directory holds up one of them, not every other
    directory's."""

    def __init__(
        self,
        engine: Engine,
        settings: GoogleSettings,
        owner: str,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.owner = owner
        self.idle_seconds = idle_seconds

    def run(self, stop: threading.Event) -> None:
        syncing = [
            threading.Thread(
                target=self._sync, args=(stop,), name=f"scimgate-sync-{n}", daemon=True
            )
            for n in range(CONCURRENCY)
        ]
        for thread in syncing:
            thread.start()
        for thread in syncing:
            thread.join()

    def _sync(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                busy = run_due(self.engine, self.settings, self.owner)
            except Exception as exc:
                # The database may be away for a moment: log, wait, try again.
                log.error("directory sync turn failed", worker=self.owner, **failure(exc))
                busy = False
            if not busy:
                stop.wait(self.idle_seconds)
