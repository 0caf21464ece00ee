"""Delivering events to webhook endpoints: fan-out, claiming, signing, one attempt, retries.

Delivery is at least once. Fan-out turns each published event into a pending
delivery per endpoint that wants it. A worker claims the heads of the
endpoints' lines (the oldest pending delivery of each endpoint and directory)
by leasing them, posts outside any transaction, and records the outcome in a
new one. A worker that dies mid-delivery leaves a lease that runs out; another
worker then sends the event again, with the same ``webhook-id``, by which
receivers deduplicate.
"""

from __future__ import annotations

import base64
import json
import random
import secrets
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Connection, Engine
from standardwebhooks.webhooks import Webhook

from scimgate import __version__
from scimgate.config import DEFAULT_RETRY_SCHEDULE
from scimgate.records import frozen
from scimgate.service.event_stream import event_feed, outbound
from scimgate.service.event_stream.destinations import RefusedDestination
from scimgate.store import events, progress, webhook_claims, webhook_deliveries, webhook_endpoints
from scimgate.store.events import StoredEvent
from scimgate.store.ids import new_id, utcnow
from scimgate.store.transactions import reading, writing
from scimgate.store.webhook_deliveries import PENDING, Delivery
from scimgate.store.webhook_endpoints import Endpoint

FANOUT_POSITION = "webhooks.fanout"
"""The named position (``worker_cursors``) of the last event fanned out to endpoints."""

FANOUT_BATCH = 500
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
USER_AGENT = f"scimgate/{__version__}"
EXCERPT_CHARS = 1024
"""How much of an endpoint's answer the attempt log keeps."""

EXCERPT_BYTES = 4 * EXCERPT_CHARS
"""The most of an answer that is read: enough for the excerpt in any UTF-8 text."""

ERROR_CHARS = 512


@frozen
class RetryPolicy:
    """When to try a failed delivery again: exponential backoff with jitter.

    By default the waits after each failure are 5 s, 30 s, 2 min, 10 min,
    30 min, 1 h, 2 h, 4 h, 8 h, then 12 h five times: 15 attempts spread over
    75 h 43 min (about three days), each wait varied by ±20% so that the
    retries of many deliveries do not arrive together. A delivery that fails
    once more after the last wait has used the schedule up, and its endpoint is
    disabled.
    """

    delays: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE
    jitter: float = 0.2

    def delay_after(self, failures: int) -> float | None:
        """Seconds to wait after this many failed attempts; None once the schedule is used up."""
        if failures > len(self.delays):
            return None
        return self.delays[failures - 1] * random.uniform(1 - self.jitter, 1 + self.jitter)


@frozen
class Job:
    """A leased delivery, with everything needed to send it."""

    delivery: Delivery
    endpoint: Endpoint
    event: StoredEvent
    secrets: list[str]


@frozen
class Answer:
    """What one attempt got: a status code and the start of the body, or an error."""

    sent_at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None = None
    excerpt: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def new_secret() -> str:
    """A signing secret in the Standard Webhooks form: ``whsec_`` and base64 of random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def body_of(event: StoredEvent) -> str:
    """The request body: the event as the events API shows it, as compact JSON."""
    return json.dumps(event_feed.wire(event), separators=(",", ":"), ensure_ascii=False)


def signed_headers(
    message_id: str, body: str, signing: Sequence[str], at: datetime
) -> dict[str, str]:
    """Standard Webhooks headers; one ``v1`` signature per secret that is valid now."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(
            Webhook(secret).sign(message_id, at, body) for secret in signing
        ),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        # Only the start of the answer is read, as sent: nothing to decompress.
        "accept-encoding": "identity",
    }


def fan_out(engine: Engine, batch: int = FANOUT_BATCH) -> int:
    """Queue the next events for the endpoints that want them; returns how many were read.

    Reading, queueing and moving the position happen in one transaction that
    locks the position, so no event is queued twice, whatever the number of
    workers. Disabled endpoints get deliveries too: nothing is lost while they are off.

    With no endpoint at all, the position moves past every event published so far
    without reading them (a server whose app follows the events API has none, and
    reading each event again cost it a few percent of its CPU during a sync).
    """
    event_feed.number_committed(engine)
    with reading(engine) as conn:
        if events.last_seq(conn) <= progress.position(conn, FANOUT_POSITION):
            return 0
    now = utcnow()
    with writing(engine) as conn:
        after = progress.lock(conn, FANOUT_POSITION)
        # Read before the endpoints: every event up to it was published before any endpoint
        # the list below leaves out was made.
        newest = events.last_seq(conn)
        endpoints = webhook_endpoints.list_endpoints(conn)
        if not endpoints:
            if newest > after:
                progress.advance(conn, FANOUT_POSITION, newest)
            return 0
        found = webhook_deliveries.published_after(conn, after, newest, batch)
        if not found:
            return 0
        webhook_deliveries.insert_deliveries(
            conn,
            [
                new_delivery(endpoint.id, event, now)
                for event in found
                for endpoint in endpoints
                if endpoint.wants(event)
            ],
        )
        progress.advance(conn, FANOUT_POSITION, found[-1].seq)
    return len(found)


def new_delivery(endpoint_id: str, event: webhook_deliveries.EventRef, now: datetime) -> Delivery:
    """A pending delivery of an event to an endpoint, due at once."""
    return Delivery(
        id=new_id(),
        endpoint_id=endpoint_id,
        directory_id=event.directory_id,
        event_seq=event.seq,
        event_id=event.id,
        status=PENDING,
        attempts=0,
        next_attempt_at=now,
        lease_owner=None,
        lease_until=None,
        created_at=now,
        delivered_at=None,
    )


def claim(engine: Engine, owner: str, limit: int, lease_seconds: float) -> list[Job]:
    """Lease up to ``limit`` deliveries that may be attempted now, in one short transaction."""
    if limit <= 0:
        return []
    now = utcnow()
    with writing(engine) as conn:
        leased = webhook_claims.claim(
            conn, owner, now, now + timedelta(seconds=lease_seconds), limit
        )
        return _jobs(conn, leased, now)


def _jobs(conn: Connection, leased: Sequence[Delivery], now: datetime) -> list[Job]:
    """What sending leased deliveries needs: their events, endpoints and signing secrets.

    A delivery whose event retention has removed can never be sent: it is
    marked ``expired`` so that it no longer holds back its line.
    """
    if not leased:
        return []
    found = events.by_seqs(conn, [each.event_seq for each in leased])
    webhook_deliveries.mark_expired(
        conn, [each.id for each in leased if each.event_seq not in found]
    )
    endpoint_ids = list({each.endpoint_id for each in leased})
    endpoints = webhook_endpoints.endpoints_by_id(conn, endpoint_ids)
    signing = webhook_endpoints.valid_secrets(conn, endpoint_ids, now)
    return [
        Job(each, endpoints[each.endpoint_id], found[each.event_seq], signing[each.endpoint_id])
        for each in leased
        if each.event_seq in found
    ]


def send(job: Job, client: httpx.Client, timeout: float) -> Answer:
    """POST the event to the endpoint, signed; no transaction is open meanwhile.

    The attempt ends within ``timeout`` seconds in all, the start of the answer
    read: an answer that is not complete by then (the excerpt's worth of it) is
    a failed attempt. Use a client from :func:`outbound.delivery_client`, which
    keeps to the deadline and refuses destinations inside the network.
    """
    body = body_of(job.event)
    sent_at = utcnow()
    headers = signed_headers(job.event.id, body, job.secrets, sent_at)
    started = time.perf_counter()
    try:
        with (
            outbound.deadline(timeout),
            client.stream(
                "POST", job.endpoint.url, content=body.encode(), headers=headers, timeout=timeout
            ) as response,
        ):
            excerpt = _excerpt(response)
            return Answer(sent_at, response.status_code, _elapsed_ms(started), excerpt=excerpt)
    except RefusedDestination as exc:
        return Answer(sent_at, None, _elapsed_ms(started), error=exc.detail[:ERROR_CHARS])
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return Answer(sent_at, None, _elapsed_ms(started), error=error[:ERROR_CHARS])


@frozen
class Outcome:
    delivered: bool
    retry_in: float | None
    """Seconds until the next attempt after a failure; None once the schedule is used up."""

    disabled_reason: str | None = None
    """Set when this failure used the schedule up and disabled the endpoint."""

    next_job: Job | None = None
    """The endpoint's next delivery, leased in the same transaction (see ``record``)."""


def record(
    engine: Engine,
    job: Job,
    owner: str,
    answer: Answer,
    policy: RetryPolicy,
    *,
    lease_next_for: float | None = None,
) -> Outcome:
    """Log the attempt and move the delivery on: delivered, retried later, or its endpoint off.

    With ``lease_next_for`` (seconds), a delivered job's endpoint is asked for its
    next delivery in the same transaction, which the caller then sends: an
    endpoint with a backlog is served one delivery after another without a
    claim between them, still one delivery at a time and in order.
    """
    now = utcnow()
    delivery = job.delivery
    with writing(engine) as conn:
        webhook_deliveries.record_attempt(
            conn,
            webhook_deliveries.Attempt(
                id=new_id(),
                delivery_id=delivery.id,
                endpoint_id=delivery.endpoint_id,
                attempted_at=answer.sent_at,
                status_code=answer.status_code,
                latency_ms=answer.latency_ms,
                error=answer.error,
                response_excerpt=answer.excerpt,
            ),
        )
        if not answer.ok:
            return _failed(conn, delivery, owner, policy, now)
        webhook_deliveries.mark_delivered(conn, delivery.id, now)
        event_feed.note_delivered(conn, job.event, revocation_hook=job.endpoint.revocation_hook)
        if lease_next_for is None:
            return Outcome(delivered=True, retry_in=None)
        lease_until = now + timedelta(seconds=lease_next_for)
        head = webhook_claims.lease_endpoint_head(
            conn, delivery.endpoint_id, owner, now, lease_until
        )
        following = _jobs(conn, [head] if head else [], now)
        return Outcome(delivered=True, retry_in=None, next_job=next(iter(following), None))


def _failed(
    conn: Connection, delivery: Delivery, owner: str, policy: RetryPolicy, now: datetime
) -> Outcome:
    failures = delivery.attempts + 1
    wait = policy.delay_after(failures)
    if wait is not None:
        webhook_deliveries.schedule_retry(
            conn, delivery.id, owner, failures, now + timedelta(seconds=wait)
        )
        return Outcome(delivered=False, retry_in=wait)
    if not webhook_deliveries.schedule_retry(conn, delivery.id, owner, failures, now):
        return Outcome(delivered=False, retry_in=None)
    run = webhook_deliveries.attempts_of(conn, delivery.id)[-failures:]
    since = run[0].attempted_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    reason = f"failing since {since}, {failures} attempts"
    webhook_endpoints.set_enabled(conn, delivery.endpoint_id, False, reason)
    return Outcome(delivered=False, retry_in=None, disabled_reason=reason)


def _excerpt(response: httpx.Response) -> str:
    """The start of the answer: at most ``EXCERPT_BYTES`` are read, however long it is."""
    taken = b""
    for chunk in response.iter_raw():
        taken += chunk
        if len(taken) >= EXCERPT_BYTES:
            break
    try:
        text = taken[:EXCERPT_BYTES].decode(response.charset_encoding or "utf-8", "replace")
    except LookupError:  # a charset Python does not know
        text = taken[:EXCERPT_BYTES].decode("utf-8", "replace")
    return text[:EXCERPT_CHARS]


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
