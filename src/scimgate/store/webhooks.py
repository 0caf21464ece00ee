"""Webhook endpoints, their signing secrets, deliveries and the log of attempts.

A delivery may be attempted only while it is the head of its line: the oldest
pending delivery (lowest ``event_seq``, then ``id``) of its endpoint and
directory. ``event_seq`` is the event's position in the stream (see
``store/events.py``): a directory's events in commit order. Claiming leases
heads for a while; on PostgreSQL the candidates are locked with ``SKIP LOCKED``
so that concurrent workers take different ones, and SQLite serializes writers
already.
"""

from collections.abc import Sequence
from dataclasses import astuple, dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, or_, select, tuple_, update
from sqlalchemy.sql.elements import ColumnElement

from scimgate.store.tables.event_stream import events
from scimgate.store.tables.webhooks import (
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
    webhook_secrets,
)

PENDING = "pending"
DELIVERED = "delivered"
EXPIRED = "expired"
"""A delivery whose event retention removed before it could be delivered."""


@dataclass(frozen=True)
class EventRef:
    """What a delivery needs to know of an event."""

    seq: int
    """Its position in the stream, which orders a directory's deliveries as it commits."""
    id: str
    directory_id: str


@dataclass(frozen=True)
class Published(EventRef):
    """What fan-out needs to know of an event: whom it is for, and when it was published."""

    organization_id: str
    type: str
    published_at: datetime


@dataclass(frozen=True)
class Endpoint:
    id: str
    organization_id: str | None
    """None: the endpoint receives the events of every organization."""

    url: str
    description: str
    event_types: list[str]
    """The types it receives; empty for all."""

    revocation_hook: bool
    """A 2xx answer confirms that the app revoked a deprovisioned user's access."""

    enabled: bool
    disabled_reason: str | None
    created_at: datetime

    def wants(self, event: Published) -> bool:
        """Whether fan-out queues an event for this endpoint.

        It must be of the endpoint's organization and types, and published since
        the endpoint was registered: older events reach it only by replay.
        """
        return (
            self.organization_id in (None, event.organization_id)
            and (not self.event_types or event.type in self.event_types)
            and event.published_at >= self.created_at
        )


@dataclass(frozen=True)
class Secret:
    id: str
    endpoint_id: str
    secret: str
    created_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class Attempt:
    id: str
    delivery_id: str
    endpoint_id: str
    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None
    response_excerpt: str | None


def insert_endpoint(conn: Connection, endpoint: Endpoint) -> None:
    conn.execute(webhook_endpoints.insert().values(**vars(endpoint)))


def get_endpoint(
    conn: Connection, endpoint_id: str, *, for_update: bool = False
) -> Endpoint | None:
    query = select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
    row = conn.execute(query.with_for_update() if for_update else query).first()
    return _endpoint(row._mapping) if row else None


def list_endpoints(conn: Connection, organization_id: str | None = None) -> list[Endpoint]:
    """Every endpoint, or those of one organization (endpoints for all organizations included)."""
    query = select(webhook_endpoints)
    if organization_id is not None:
        query = query.where(
            or_(
                webhook_endpoints.c.organization_id == organization_id,
                webhook_endpoints.c.organization_id.is_(None),
            )
        )
    rows = conn.execute(query.order_by(webhook_endpoints.c.created_at, webhook_endpoints.c.id))
    return [_endpoint(row._mapping) for row in rows]


def endpoints_by_id(conn: Connection, ids: Sequence[str]) -> dict[str, Endpoint]:
    if not ids:
        return {}
    rows = conn.execute(select(webhook_endpoints).where(webhook_endpoints.c.id.in_(ids)))
    return {row.id: _endpoint(row._mapping) for row in rows}


def delete_endpoint(conn: Connection, endpoint_id: str) -> bool:
    """Remove an endpoint; its secrets, deliveries and attempts go with it (cascades)."""
    result = conn.execute(delete(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id))
    return result.rowcount == 1


def set_enabled(conn: Connection, endpoint_id: str, enabled: bool, reason: str | None) -> bool:
    """Enable or disable an endpoint; False when it already was in that state."""
    result = conn.execute(
        update(webhook_endpoints)
        .where(webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.enabled != enabled)
        .values(enabled=enabled, disabled_reason=None if enabled else reason)
    )
    return result.rowcount == 1


def insert_secret(conn: Connection, secret: Secret) -> None:
    conn.execute(webhook_secrets.insert().values(**vars(secret)))


def secrets_of(conn: Connection, endpoint_id: str) -> list[Secret]:
    """An endpoint's secrets, newest first, expired ones included."""
    rows = conn.execute(
        select(webhook_secrets)
        .where(webhook_secrets.c.endpoint_id == endpoint_id)
        .order_by(webhook_secrets.c.created_at.desc(), webhook_secrets.c.id.desc())
    )
    return [Secret(**row._mapping) for row in rows]


def valid_secrets(
    conn: Connection, endpoint_ids: Sequence[str], at: datetime
) -> dict[str, list[str]]:
    """The secrets that sign at an instant, per endpoint, newest first."""
    if not endpoint_ids:
        return {}
    rows = conn.execute(
        select(webhook_secrets.c.endpoint_id, webhook_secrets.c.secret)
        .where(webhook_secrets.c.endpoint_id.in_(endpoint_ids), _valid_at(at))
        .order_by(webhook_secrets.c.created_at.desc(), webhook_secrets.c.id.desc())
    )
    found: dict[str, list[str]] = {endpoint_id: [] for endpoint_id in endpoint_ids}
    for row in rows:
        found[row.endpoint_id].append(row.secret)
    return found


def expire_secrets(conn: Connection, endpoint_id: str, at: datetime, by: datetime) -> None:
    """Rotation: every secret still valid at ``at`` stops being valid at ``by`` (or sooner)."""
    conn.execute(
        update(webhook_secrets)
        .where(
            webhook_secrets.c.endpoint_id == endpoint_id,
            or_(webhook_secrets.c.expires_at.is_(None), webhook_secrets.c.expires_at > by),
        )
        .values(expires_at=by)
    )
    conn.execute(
        delete(webhook_secrets).where(
            webhook_secrets.c.endpoint_id == endpoint_id, webhook_secrets.c.expires_at <= at
        )
    )


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


CANDIDATES_PER_SLOT = 8
"""Heads read per free sender, so that several endpoints' heads are among them."""

HEADS_PER_QUERY = 500
"""Lines whose heads one statement looks up (bound parameters stay well under limits)."""


@dataclass(frozen=True)
class Head:
    """The oldest pending delivery of a line: an endpoint and a directory."""

    endpoint_id: str
    directory_id: str
    event_seq: int


def claim(
    conn: Connection, owner: str, now: datetime, lease_until: datetime, limit: int
) -> list[Delivery]:
    """Lease up to ``limit`` deliveries that are due, unleased, heads, of enabled endpoints.

    At most one per endpoint, and none for an endpoint that has a delivery in
    flight already: a slow or unreachable endpoint ties up one sender at a
    time, never all of them, so the other endpoints flow on.

    The heads are found first, in one pass over the pending rows of the
    (status, line, sequence) index, and then looked up by their keys. Two
    plain statements rather than one join: a burst of events grows the table
    faster than the planner's statistics follow, and a join planned for an
    empty table re-reads every pending row once per pending row.
    """
    heads = _free_heads(conn, now)
    chosen: dict[str, str] = {}
    for start in range(0, len(heads), HEADS_PER_QUERY):
        lines = [astuple(head) for head in heads[start : start + HEADS_PER_QUERY]]
        pending = webhook_deliveries.c
        due = (
            select(pending.id, pending.endpoint_id)
            .where(
                tuple_(pending.endpoint_id, pending.directory_id, pending.event_seq).in_(lines),
                pending.status == PENDING,
                pending.next_attempt_at <= now,
                _unleased(now),
            )
            # A replayed event can be pending twice in a line: the older delivery goes first.
            .order_by(pending.next_attempt_at, pending.event_seq, pending.id)
            .limit(limit * CANDIDATES_PER_SLOT)
            .with_for_update(skip_locked=True)
        )
        for delivery_id, endpoint_id in conn.execute(due):
            chosen.setdefault(endpoint_id, delivery_id)
        if len(chosen) >= limit:
            break
    ids = list(chosen.values())[:limit]
    if not ids:
        return []
    conn.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.id.in_(ids))
        .values(lease_owner=owner, lease_until=lease_until)
    )
    rows = conn.execute(
        select(webhook_deliveries)
        .where(webhook_deliveries.c.id.in_(ids))
        .order_by(webhook_deliveries.c.event_seq)
    )
    return [Delivery(**row._mapping) for row in rows]


def lease_endpoint_head(
    conn: Connection, endpoint_id: str, owner: str, now: datetime, lease_until: datetime
) -> Delivery | None:
    """Lease an endpoint's oldest pending delivery if it may be sent now; None otherwise.

    The oldest pending delivery of an endpoint is the head of its line, and the
    oldest of the endpoint's heads: a worker that has just delivered to an
    endpoint goes on with it this way, in one index probe, without a claim.
    Its row is waited for rather than skipped when another worker's claim
    holds it, since the row after it may not be a head.
    """
    pending = webhook_deliveries.c
    row = conn.execute(
        select(webhook_deliveries)
        .join(webhook_endpoints, webhook_endpoints.c.id == pending.endpoint_id)
        .where(
            pending.endpoint_id == endpoint_id,
            pending.status == PENDING,
            webhook_endpoints.c.enabled.is_(True),
        )
        .order_by(pending.event_seq, pending.id)
        .limit(1)
        .with_for_update(of=webhook_deliveries)
    ).first()
    if row is None:
        return None
    head = Delivery(**row._mapping)
    if head.next_attempt_at > now or (head.lease_until is not None and head.lease_until >= now):
        return None
    conn.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.id == head.id)
        .values(lease_owner=owner, lease_until=lease_until)
    )
    return replace(head, lease_owner=owner, lease_until=lease_until)


def _free_heads(conn: Connection, now: datetime) -> list[Head]:
    """The heads of the lines of enabled endpoints with nothing in flight, oldest first."""
    pending = webhook_deliveries.c
    lines = conn.execute(
        select(
            pending.endpoint_id,
            pending.directory_id,
            func.min(pending.event_seq),
            func.max(pending.lease_until),
        )
        .where(pending.status == PENDING)
        .group_by(pending.endpoint_id, pending.directory_id)
        .order_by(func.min(pending.event_seq))
    ).all()
    if not lines:
        return []
    busy = {line[0] for line in lines if line[3] is not None and line[3] > now}
    enabled = set(
        conn.execute(
            select(webhook_endpoints.c.id).where(webhook_endpoints.c.enabled.is_(True))
        ).scalars()
    )
    return [
        Head(endpoint_id, directory_id, seq)
        for endpoint_id, directory_id, seq, _ in lines
        if endpoint_id in enabled and endpoint_id not in busy
    ]


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


def published_after(conn: Connection, after: int, limit: int) -> list[Published]:
    """The next published events to fan out, by position in the stream, without payloads."""
    rows = conn.execute(
        select(
            events.c.position.label("seq"),
            events.c.id,
            events.c.directory_id,
            events.c.organization_id,
            events.c.type,
            events.c.published_at,
        )
        .where(events.c.position > after)
        .order_by(events.c.position)
        .limit(limit)
    )
    return [Published(**row._mapping) for row in rows]


def events_in_range(
    conn: Connection,
    endpoint: Endpoint,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    from_seq: int | None = None,
    to_seq: int | None = None,
    limit: int,
) -> list[EventRef]:
    """The endpoint's events in a time or sequence range (bounds inclusive, ``until`` not).

    Sequences are positions in the stream; events not numbered yet are left out.
    """
    position = events.c.position
    query = select(position, events.c.id, events.c.directory_id).where(position.is_not(None))
    if endpoint.organization_id is not None:
        query = query.where(events.c.organization_id == endpoint.organization_id)
    if endpoint.event_types:
        query = query.where(events.c.type.in_(endpoint.event_types))
    if since is not None:
        query = query.where(events.c.occurred_at >= since)
    if until is not None:
        query = query.where(events.c.occurred_at < until)
    if from_seq is not None:
        query = query.where(position >= from_seq)
    if to_seq is not None:
        query = query.where(position <= to_seq)
    rows = conn.execute(query.order_by(position).limit(limit))
    return [EventRef(row.position, row.id, row.directory_id) for row in rows]


def _unleased(now: datetime) -> ColumnElement[bool]:
    return or_(webhook_deliveries.c.lease_until.is_(None), webhook_deliveries.c.lease_until < now)


def _valid_at(at: datetime) -> ColumnElement[bool]:
    return or_(webhook_secrets.c.expires_at.is_(None), webhook_secrets.c.expires_at > at)


def _endpoint(row: Any) -> Endpoint:
    fields = dict(row)
    fields["event_types"] = list(fields["event_types"])
    return Endpoint(**fields)
