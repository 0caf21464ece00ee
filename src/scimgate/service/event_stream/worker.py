"""The delivery worker: fan out events, deliver webhooks, run upkeep, sync pulled
directories, until told to stop.

Any number of workers may run against one database. Each loop turn fans out
newly published events, then leases as many deliveries as it has free threads
and sends them concurrently, so a slow endpoint occupies one thread and
nothing else. A thread that delivered goes on with the same endpoint's next
delivery while one is due, for up to ``CHAIN_LIMIT`` in a row. Upkeep
(retention, tombstones, overdue alerts, old deliveries) runs every minute.
Directories pulled from Google Workspace are synced in a thread of their own as
they fall due, so a long sync never holds up a delivery.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import timedelta

import httpx
import structlog
from sqlalchemy import Engine

from scimgate.config import EventSettings, GoogleSettings, LogPolicy, Settings
from scimgate.logging import failure
from scimgate.records import frozen
from scimgate.service.directory_sync.google_runs import PullLoop
from scimgate.service.event_stream import delivery, outbound
from scimgate.service.event_stream.delivery import FANOUT_BATCH, USER_AGENT, Job, RetryPolicy
from scimgate.service.operations import health
from scimgate.service.operations.maintenance import run_upkeep
from scimgate.store import webhook_deliveries
from scimgate.store.engine import close_connections, open_engine
from scimgate.store.ids import utcnow
from scimgate.store.transactions import writing

log = structlog.get_logger("scimgate.worker")

CONCURRENCY = 4
"""Deliveries one worker sends at the same time."""

IDLE_SECONDS = 0.5
"""How long a worker with nothing to do waits before it looks again."""

UPKEEP_SECONDS = 60.0

CHAIN_LIMIT = 50
"""Deliveries a sender makes to one endpoint in a row, each leased as the last is recorded,
before it goes back to the claim: an endpoint's backlog drains without a claim per
delivery, and endpoints beyond the worker's concurrency still get their turn."""

SYNC_STOP_SECONDS = 10.0
"""How long a stopping worker waits for a directory sync in progress to end."""

HEARTBEAT_SECONDS = 10.0
"""How often the worker records that it is alive (``/readyz`` wants one within 30 s)."""


def new_worker_id() -> str:
    """``hostname-pid-random``: names the worker in leases and logs."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(3)}"


class Worker:
    """One delivery worker; :meth:`run` loops until its stop event is set."""

    def __init__(
        self,
        engine: Engine,
        settings: EventSettings,
        policy: RetryPolicy,
        *,
        log_policy: LogPolicy | None = None,
        worker_id: str | None = None,
        concurrency: int = CONCURRENCY,
        idle_seconds: float = IDLE_SECONDS,
        google: GoogleSettings | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.policy = policy
        self.log_policy = log_policy or LogPolicy()
        self.id = worker_id or new_worker_id()
        self.concurrency = concurrency
        self.idle_seconds = idle_seconds
        self.pull = None if google is None else PullLoop(engine, google, self.id)
        """Syncs pulled directories; a worker built without Google settings syncs none."""
        # Settings keep it well below the lease: an attempt never outlives its lease, so no
        # two workers send one delivery at once.
        self.timeout = settings.webhook_timeout

    def run(self, stop: threading.Event) -> None:
        log.info("worker started", worker=self.id, concurrency=self.concurrency)
        pulling = None
        if self.pull is not None:
            pulling = threading.Thread(
                target=self.pull.run, args=(stop,), name="scimgate-sync", daemon=True
            )
            pulling.start()
        in_flight: set[Future[None]] = set()
        next_upkeep = next_heartbeat = time.monotonic()
        with (
            outbound.delivery_client(
                self.settings.webhook_allowed_hosts, {"user-agent": USER_AGENT}
            ) as client,
            ThreadPoolExecutor(self.concurrency, thread_name_prefix="webhook") as pool,
        ):
            while not stop.is_set():
                if time.monotonic() >= next_upkeep:
                    self._upkeep()
                    next_upkeep = time.monotonic() + UPKEEP_SECONDS
                in_flight = self._running(in_flight)
                try:
                    if time.monotonic() >= next_heartbeat:
                        health.heartbeat(self.engine)
                        next_heartbeat = time.monotonic() + HEARTBEAT_SECONDS
                    busy = self._turn(client, pool, in_flight, stop)
                except Exception as exc:
                    # The database may be away for a moment: log, wait, try again.
                    log.error("worker turn failed", worker=self.id, **failure(exc))
                    busy = False
                if busy:
                    continue
                if in_flight:
                    wait(in_flight, timeout=self.idle_seconds, return_when=FIRST_COMPLETED)
                else:
                    stop.wait(self.idle_seconds)
            wait(in_flight)
        if pulling is not None:
            # A sync commits its changes a hundred at a time: one cut short by the process's
            # end loses at most the batch in progress, and the next sync goes on from what
            # is stored.
            pulling.join(SYNC_STOP_SECONDS)
        log.info("worker stopped", worker=self.id)

    def _turn(
        self,
        client: httpx.Client,
        pool: ThreadPoolExecutor,
        in_flight: set[Future[None]],
        stop: threading.Event,
    ) -> bool:
        """Fan out, then lease and start deliveries; True when there may be more to do at once."""
        fanned = delivery.fan_out(self.engine)
        jobs = delivery.claim(
            self.engine, self.id, self.concurrency - len(in_flight), self.settings.lease_seconds
        )
        for job in jobs:
            in_flight.add(pool.submit(self._deliver, client, job, stop))
        return fanned == FANOUT_BATCH or bool(jobs)

    def _running(self, in_flight: set[Future[None]]) -> set[Future[None]]:
        """The deliveries still in flight; a finished one's unexpected error is logged."""
        for future in in_flight:
            error = future.exception() if future.done() else None
            if error is not None:
                log.error("delivery thread failed", worker=self.id, **failure(error))
        return {future for future in in_flight if not future.done()}

    def _deliver(self, client: httpx.Client, job: Job, stop: threading.Event) -> None:
        """Send a job, then the endpoint's next ones while they are due (up to a limit)."""
        current: Job | None = job
        sent = 0
        while current is not None:
            sent += 1
            go_on = sent < CHAIN_LIMIT and not stop.is_set()
            current = self._attempt(client, current, go_on)

    def _attempt(self, client: httpx.Client, job: Job, lease_next: bool) -> Job | None:
        """One attempt, recorded; returns the endpoint's next job when one was leased."""
        fields: dict[str, object] = {
            "worker": self.id,
            "delivery": job.delivery.id,
            "endpoint": job.endpoint.id,
            "event_id": job.event.id,
            "event_type": job.event.type,
        }
        try:
            answer = delivery.send(job, client, self.timeout)
            outcome = delivery.record(
                self.engine,
                job,
                self.id,
                answer,
                self.policy,
                lease_next_for=self.settings.lease_seconds if lease_next else None,
            )
        except Exception as exc:
            # The lease runs out and another turn tries again.
            log.error("delivery failed unexpectedly", **fields, **failure(exc))
            return None
        fields.update(status=answer.status_code, latency_ms=answer.latency_ms)
        if outcome.delivered:
            log.info("webhook delivered", **fields)
        elif outcome.disabled_reason is not None:
            log.warning("webhook endpoint disabled", reason=outcome.disabled_reason, **fields)
        else:
            log.warning(
                "webhook attempt failed",
                error=answer.error or f"answered {answer.status_code}",
                attempts=job.delivery.attempts + 1,
                retry_in=outcome.retry_in,
                **fields,
            )
        return outcome.next_job

    def _upkeep(self) -> None:
        try:
            done = run_upkeep(self.engine, self.settings, self.log_policy)
            with writing(self.engine) as conn:
                purged = webhook_deliveries.purge_finished(
                    conn, utcnow() - timedelta(days=self.settings.retention_days)
                )
        except Exception as exc:
            log.error("upkeep failed", worker=self.id, **failure(exc))
            return
        if done.events_purged_through or done.tombstones_purged or done.overdue_alerts or purged:
            log.info(
                "upkeep",
                worker=self.id,
                events_purged_through=done.events_purged_through,
                tombstones_purged=done.tombstones_purged,
                overdue_alerts=done.overdue_alerts,
                deliveries_purged=purged,
            )


def build(settings: Settings) -> Worker:
    """A worker for the configured database, with the configured retry policy and log retention."""
    engine = open_engine(settings.database_url, settings.pool, settings.encryption_keys)
    return Worker(
        engine,
        settings.events,
        RetryPolicy(delays=settings.events.webhook_retry_schedule),
        log_policy=settings.log,
        google=settings.google,
    )


@frozen
class BackgroundWorker:
    """A worker running in a daemon thread of this process (``scimgate serve``)."""

    thread: threading.Thread
    stopping: threading.Event

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the worker to stop, and wait for its deliveries in flight to end."""
        self.stopping.set()
        self.thread.join(timeout)


def run_built(worker: Worker, stop: threading.Event) -> None:
    """Run a worker made by :func:`build` until ``stop``, then close its engine's connections
    (on SQLite the last to close folds the WAL into the database file)."""
    try:
        worker.run(stop)
    finally:
        close_connections(worker.engine)


def start_in_background(settings: Settings) -> BackgroundWorker:
    worker = build(settings)
    stopping = threading.Event()
    thread = threading.Thread(
        target=run_built, args=(worker, stopping), name="scimgate-worker", daemon=True
    )
    thread.start()
    return BackgroundWorker(thread, stopping)
