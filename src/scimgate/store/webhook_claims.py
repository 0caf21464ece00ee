"""Claiming webhook deliveries: leasing the heads of lines for workers to send.

A delivery may be attempted only while it is the head of its line: the oldest
pending delivery (lowest ``event_seq``, then ``id``) of its endpoint and
directory. ``event_seq`` is the event's position in the stream (see
``store/events.py``): a directory's events in commit order. Claiming leases
heads for a while; on PostgreSQL the candidates are locked with ``SKIP LOCKED``
so that concurrent workers take different ones, and SQLite serializes writers
already.
"""

from dataclasses import astuple, replace
from datetime import datetime

from sqlalchemy import Connection, func, or_, select, tuple_, update
from sqlalchemy.sql.elements import ColumnElement

from scimgate.records import frozen
from scimgate.store.tables.webhooks import webhook_deliveries, webhook_endpoints
from scimgate.store.webhook_deliveries import PENDING, Delivery

CANDIDATES_PER_SLOT = 8
"""Heads read per free sender, so that several endpoints' heads are among them."""

HEADS_PER_QUERY = 500
"""Lines whose heads one statement looks up (bound parameters stay well under limits)."""


@frozen
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


def _unleased(now: datetime) -> ColumnElement[bool]:
    return or_(webhook_deliveries.c.lease_until.is_(None), webhook_deliveries.c.lease_until < now)
