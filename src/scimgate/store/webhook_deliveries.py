"""Webhook deliveries: events queued for endpoints, their state, and the log of attempts.

Fan-out reads the published events (``published_after``) and queues a delivery
of each to every endpoint that wants it; deliveries stay ``pending`` until a
2xx answer. Which pending delivery a worker may send is decided by claiming
(``store/webhook_claims.py``).
"""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, delete, func, or_, select, update

from scimgate.records import frozen
from scimgate.store.tables.event_stream import events
from scimgate.store.tables.webhooks import webhook_attempts, webhook_deliveries

PENDING = "pending"
DELIVERED = "delivered"
EXPIRED = "expired"
"""A delivery whose event retention removed before it could be delivered."""


@frozen
class EventRef:
    """What a delivery needs to know of an event."""

    seq: int
    """Its position in the stream, which orders a directory's deliveries as it commits."""
    id: str
    directory_id: str


@frozen
class Published(EventRef):
    """What fan-out needs to know of an event: whom it is for, and when it was published."""

    organization_id: str
    type: str
    published_at: datetime


@frozen
class Delivery:
    id: str
    endpoint_id: str
    directory_id: str
    event_seq: int
    event_id: str
    status: str
    attempts: int
    """Failed attempts since the delivery was made (or its endpoint last re-enabled)."""

    next_attempt_at: datetime
    lease_owner: str | None
    lease_until: datetime | None
    created_at: datetime
    delivered_at: datetime | None


@frozen
class Attempt:
    id: str
    delivery_id: str
    endpoint_id: str
    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None
    response_excerpt: str | None


def published_after(conn: Connection, after: int, through: int, limit: int) -> list[Published]:
    """The next published events to fan out, by position in the stream, up to ``through``,
    without payloads."""
    rows = conn.execute(
        select(
            events.c.position.label("seq"),
            events.c.id,
            events.c.directory_id,
            events.c.organization_id,
            events.c.type,
            events.c.published_at,
        )
        .where(events.c.position > after, events.c.position <= through)
        .order_by(events.c.position)
        .limit(limit)
    )
    return [Published(**row._mapping) for row in rows]


def insert_deliveries(conn: Connection, deliveries: Sequence[Delivery]) -> None:
    if deliveries:
        conn.execute(webhook_deliveries.insert(), [vars(each) for each in deliveries])


def get_delivery(conn: Connection, delivery_id: str) -> Delivery | None:
    row = conn.execute(
        select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id)
    ).first()
    return Delivery(**row._mapping) if row else None


def list_deliveries(
    conn: Connection, endpoint_id: str, status: str | None, limit: int
) -> list[Delivery]:
    """An endpoint's deliveries, newest event first."""
    query = select(webhook_deliveries).where(webhook_deliveries.c.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(webhook_deliveries.c.status == status)
    rows = conn.execute(
        query.order_by(webhook_deliveries.c.event_seq.desc(), webhook_deliveries.c.id.desc()).limit(
            limit
        )
    )
    return [Delivery(**row._mapping) for row in rows]


@frozen
class Failing:
    """An endpoint's waiting deliveries that have failed at least once."""

    endpoint_id: str
    deliveries: int
    most_attempts: int
    """The most failed attempts of any of them."""


def failing(conn: Connection, endpoint_ids: Sequence[str] | None = None) -> list[Failing]:
    """Endpoints (of ``endpoint_ids``, or all) with waiting deliveries that have failed."""
    query = (
        select(
            webhook_deliveries.c.endpoint_id,
            func.count(),
            func.max(webhook_deliveries.c.attempts),
        )
        .where(webhook_deliveries.c.status == PENDING, webhook_deliveries.c.attempts > 0)
        .group_by(webhook_deliveries.c.endpoint_id)
        .order_by(webhook_deliveries.c.endpoint_id)
    )
    if endpoint_ids is not None:
        query = query.where(webhook_deliveries.c.endpoint_id.in_(list(endpoint_ids)))
    return [Failing(str(row[0]), int(row[1]), int(row[2])) for row in conn.execute(query)]


def pending_event_seqs(conn: Connection, endpoint_id: str, seqs: Sequence[int]) -> set[int]:
    """Which of these events already wait for delivery to the endpoint."""
    if not seqs:
        return set()
    rows = conn.execute(
        select(webhook_deliveries.c.event_seq).where(
            webhook_deliveries.c.endpoint_id == endpoint_id,
            webhook_deliveries.c.status == PENDING,
            webhook_deliveries.c.event_seq.in_(seqs),
        )
    )
    return set(rows.scalars())


def record_attempt(conn: Connection, attempt: Attempt) -> None:
    conn.execute(webhook_attempts.insert().values(**vars(attempt)))


def attempts_of(conn: Connection, delivery_id: str) -> list[Attempt]:
    """A delivery's attempts, oldest first."""
    rows = conn.execute(
        select(webhook_attempts)
        .where(webhook_attempts.c.delivery_id == delivery_id)
        .order_by(webhook_attempts.c.attempted_at, webhook_attempts.c.id)
    )
    return [Attempt(**row._mapping) for row in rows]


def mark_delivered(conn: Connection, delivery_id: str, at: datetime) -> bool:
    """The endpoint answered 2xx; False when the delivery was no longer pending."""
    result = conn.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.id == delivery_id, webhook_deliveries.c.status == PENDING)
        .values(status=DELIVERED, delivered_at=at, lease_owner=None, lease_until=None)
    )
    return result.rowcount == 1


def mark_expired(conn: Connection, delivery_ids: Sequence[str]) -> None:
    if delivery_ids:
        conn.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id.in_(delivery_ids))
            .values(status=EXPIRED, lease_owner=None, lease_until=None)
        )


def schedule_retry(
    conn: Connection, delivery_id: str, owner: str, attempts: int, at: datetime
) -> bool:
    """Count a failed attempt and release the lease; False when the lease was lost meanwhile."""
    result = conn.execute(
        update(webhook_deliveries)
        .where(
            webhook_deliveries.c.id == delivery_id,
            webhook_deliveries.c.status == PENDING,
            webhook_deliveries.c.lease_owner == owner,
        )
        .values(attempts=attempts, next_attempt_at=at, lease_owner=None, lease_until=None)
    )
    return result.rowcount == 1


def make_due(conn: Connection, endpoint_id: str, at: datetime) -> int:
    """An endpoint's pending deliveries start over: due at once, no failed attempts counted."""
    return conn.execute(
        update(webhook_deliveries)
        .where(
            webhook_deliveries.c.endpoint_id == endpoint_id,
            webhook_deliveries.c.status == PENDING,
        )
        .values(attempts=0, next_attempt_at=at)
    ).rowcount


def make_delivery_due(conn: Connection, delivery_id: str, at: datetime) -> bool:
    """A waiting delivery is due at once; False when it is not waiting or a worker holds it."""
    return (
        conn.execute(
            update(webhook_deliveries)
            .where(
                webhook_deliveries.c.id == delivery_id,
                webhook_deliveries.c.status == PENDING,
                or_(
                    webhook_deliveries.c.lease_until.is_(None),
                    webhook_deliveries.c.lease_until < at,
                ),
            )
            .values(next_attempt_at=at, lease_owner=None, lease_until=None)
        ).rowcount
        == 1
    )


def purge_finished(conn: Connection, before: datetime) -> int:
    """Forget deliveries (with their attempts) that ended before a time; pending ones stay."""
    return conn.execute(
        delete(webhook_deliveries).where(
            webhook_deliveries.c.status != PENDING, webhook_deliveries.c.created_at < before
        )
    ).rowcount
