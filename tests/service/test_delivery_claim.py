"""Claiming deliveries: which heads a worker leases, what finding them reads, and which
delivery a sender goes on with after one to the same endpoint.

A line is an endpoint and a directory; only its head (its oldest pending
delivery) may be sent. These tests call the store's ``claim`` and
``lease_endpoint_head`` on a database of their own, filled with deliveries
directly, so that every kind of line is there at once: heads that are due,
leased, not yet due, of disabled endpoints, and more lines than one statement
looks up.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from event_support import private_database
from scimgate.service.administration import tenants
from scimgate.service.event_stream import webhooks
from scimgate.store import webhook_claims, webhook_deliveries, webhook_endpoints
from scimgate.store.ids import new_id, utcnow
from scimgate.store.transactions import writing
from scimgate.store.webhook_claims import HEADS_PER_QUERY
from scimgate.store.webhook_deliveries import PENDING, Delivery
from webhook_support import LOOPBACK

LEASE = timedelta(seconds=30)


@dataclass
class Queue:
    """A private database with endpoints, and a way to queue deliveries on their lines."""

    engine: Engine
    organization_id: str
    now: datetime
    seq: int = 0

    def endpoint(self) -> str:
        issued = webhooks.register(
            self.engine,
            "http://127.0.0.1:9/hook",
            organization_id=self.organization_id,
            allowed=LOOPBACK,
        )
        return issued.endpoint.id

    def queue(
        self,
        endpoint_id: str,
        directory_id: str,
        count: int = 1,
        *,
        due_in: float = -1.0,
        leased_for: float | None = None,
    ) -> list[Delivery]:
        """``count`` pending deliveries on a line, oldest first; the first one may be
        leased, or due later (as after a failed attempt)."""
        made = []
        for index in range(count):
            self.seq += 1
            head = index == 0
            created_at = self.now - timedelta(hours=1) + timedelta(milliseconds=self.seq)
            made.append(
                Delivery(
                    id=new_id(),
                    endpoint_id=endpoint_id,
                    directory_id=directory_id,
                    event_seq=self.seq,
                    event_id=new_id(),
                    status=PENDING,
                    attempts=0,
                    next_attempt_at=self.now + timedelta(seconds=due_in) if head else created_at,
                    lease_owner="another worker" if head and leased_for else None,
                    lease_until=self.now + timedelta(seconds=leased_for)
                    if head and leased_for
                    else None,
                    created_at=created_at,
                    delivered_at=None,
                )
            )
        with writing(self.engine) as conn:
            webhook_deliveries.insert_deliveries(conn, made)
        return made

    def claim(self, limit: int) -> list[Delivery]:
        with writing(self.engine) as conn:
            return webhook_claims.claim(conn, "this worker", self.now, self.now + LEASE, limit)


@pytest.fixture
def queue(database_url: str, tmp_path: Path) -> Iterator[Queue]:
    with private_database(database_url, tmp_path) as (_, engine):
        organization = tenants.create_organization(engine, "claims")
        yield Queue(engine, organization.id, utcnow())


def test_each_endpoint_gets_its_oldest_free_head_and_blocked_lines_wait(queue: Queue) -> None:
    directories = [new_id() for _ in range(3)]
    flowing, busy, disabled, retrying, far = (queue.endpoint() for _ in range(5))

    # flowing has three lines; the oldest head (seq 1) goes, the other lines wait their turn.
    queue.queue(flowing, directories[0], 3)
    queue.queue(flowing, directories[1], 2)
    queue.queue(flowing, directories[2], 1)
    # busy has a free line too, but a delivery of its other line is in flight.
    queue.queue(busy, directories[0], 2, leased_for=20)
    queue.queue(busy, directories[1], 2)
    queue.queue(disabled, directories[0], 2)
    with writing(queue.engine) as conn:
        webhook_endpoints.set_enabled(conn, disabled, False, "test")
    # More lines than one statement looks up, every head waiting for its retry; behind
    # them, one line that is due.
    for _ in range(HEADS_PER_QUERY + 20):
        queue.queue(retrying, new_id(), 2, due_in=60)
    last = queue.queue(far, directories[2], 2)[0]

    claimed = queue.claim(limit=10)

    assert [(each.endpoint_id, each.event_seq) for each in claimed] == [
        (flowing, 1),
        (far, last.event_seq),
    ]
    assert all(each.lease_owner == "this worker" for each in claimed)
    assert all(each.lease_until == queue.now + LEASE for each in claimed)

    # Both endpoints now have a delivery in flight: nothing more until a lease ends.
    assert queue.claim(limit=10) == []


def test_a_limit_of_one_takes_the_delivery_due_first(queue: Queue) -> None:
    first, second = queue.endpoint(), queue.endpoint()
    directory = new_id()
    queue.queue(second, directory, 1, due_in=-30)
    queue.queue(first, directory, 1, due_in=-5)

    claimed = queue.claim(limit=1)

    assert [each.endpoint_id for each in claimed] == [second]


def _rows_handled(plan: dict[str, Any]) -> int:
    """Rows that the nodes of a plan produced or filtered out, over all their loops.

    Counting every node, not only the scans: a sort re-read for each outer row
    reads its table once and then hands out its rows again and again.
    """
    per_loop = sum(
        plan.get(key, 0)
        for key in ("Actual Rows", "Rows Removed by Filter", "Rows Removed by Join Filter")
    )
    handled = per_loop * plan.get("Actual Loops", 1)
    return handled + sum(_rows_handled(child) for child in plan.get("Plans", []))


def test_finding_the_heads_handles_each_pending_delivery_a_few_times_whatever_the_plan(
    queue: Queue,
) -> None:
    """A burst queues deliveries faster than PostgreSQL's statistics follow, and a plan made
    for an almost empty table joins by nested loops. Even then, claiming must not read the
    pending rows once per pending row: such a plan is forced here, and the rows that each
    statement's plan handles are counted."""
    if queue.engine.dialect.name != "postgresql":
        pytest.skip("a planner that chooses joins by statistics is PostgreSQL's")
    endpoints = [queue.endpoint() for _ in range(2)]
    pending = sum(
        len(queue.queue(endpoint_id, new_id(), 120)) for endpoint_id in endpoints for _ in range(10)
    )
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    handled = 0
    with queue.engine.begin() as conn:
        # Joins in the order written, by nested loops that re-run their inner side: what
        # a plan made from an almost empty table's statistics does.
        conn.exec_driver_sql("SET LOCAL join_collapse_limit = 1")
        for strategy in ("enable_hashjoin", "enable_mergejoin", "enable_material"):
            conn.exec_driver_sql(f"SET LOCAL {strategy} = off")
        with conn.begin_nested() as attempt:
            event.listen(conn, "before_cursor_execute", record)
            claimed = webhook_claims.claim(conn, "this worker", queue.now, queue.now + LEASE, 4)
            event.remove(conn, "before_cursor_execute", record)
            attempt.rollback()  # explained below on the same rows, none of them leased
        assert len(claimed) == 2
        for statement, parameters in statements:
            explained = conn.exec_driver_sql(
                f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", parameters
            ).scalar_one()
            plans = explained if isinstance(explained, list) else json.loads(explained)
            handled += _rows_handled(plans[0]["Plan"])
        conn.rollback()
    assert handled <= 5 * pending, f"{handled} rows handled to claim among {pending} pending"


def test_an_endpoints_next_delivery_is_its_oldest_pending_one_when_that_is_free(
    queue: Queue,
) -> None:
    endpoint, other, retrying, disabled = (queue.endpoint() for _ in range(4))
    first_line, second_line = new_id(), new_id()
    queue.queue(other, first_line, 1)
    oldest = queue.queue(endpoint, second_line, 2)[0]
    queue.queue(endpoint, first_line, 2)
    # Its oldest delivery waits for a retry: the claim serves its other, due lines.
    queue.queue(retrying, first_line, 1, due_in=60)
    queue.queue(retrying, second_line, 1)
    queue.queue(disabled, first_line, 1)
    with writing(queue.engine) as conn:
        webhook_endpoints.set_enabled(conn, disabled, False, "test")

    def lease(endpoint_id: str) -> Delivery | None:
        with writing(queue.engine) as conn:
            return webhook_claims.lease_endpoint_head(
                conn, endpoint_id, "this worker", queue.now, queue.now + LEASE
            )

    leased = lease(endpoint)
    assert leased is not None
    assert (leased.id, leased.lease_owner, leased.lease_until) == (
        oldest.id,
        "this worker",
        queue.now + LEASE,
    )
    assert lease(endpoint) is None  # its oldest is leased: nothing else goes meanwhile
    with writing(queue.engine) as conn:
        webhook_deliveries.mark_delivered(conn, oldest.id, queue.now)
    following = lease(endpoint)
    assert following is not None and following.event_seq == oldest.event_seq + 1

    assert lease(retrying) is None
    assert lease(disabled) is None
