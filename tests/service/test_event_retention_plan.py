"""Retention reads only the events it removes, by the stream's position index.

Retention looks for the first event published since its cutoff
(``store.events.purge_before``), with no index on publication time. The stream is
filled with a few thousand events, all kept, and the statement retention runs is
explained by the database itself (PostgreSQL with sequential scans off, and with
statistics; SQLite without, as the service runs it): it must walk the stream in order
and stop at the first event kept, neither scanning the table nor sorting the events kept.
Nothing here is timed.
"""

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text

from plan_support import explained, statements_naming
from scimgate.service.administration import tenants
from scimgate.store import events
from scimgate.store.events import NewEvent
from scimgate.store.ids import new_id
from scimgate.store.transactions import writing

KEPT = 3_000
START = datetime(2031, 1, 1, tzinfo=UTC)


def test_retention_finds_the_first_event_kept_without_sorting_the_events_kept(
    engine: Engine,
) -> None:
    organization = tenants.create_organization(engine, f"o-{secrets.token_hex(4)}")
    directory_id = tenants.create_directory(engine, organization.id, "d").directory.id
    with writing(engine) as conn:
        for n in range(KEPT):
            published = NewEvent(
                id=new_id(),
                organization_id=organization.id,
                directory_id=directory_id,
                type="user.updated",
                resource_id=new_id(),
                occurred_at=START,
                data={"n": n},
            )
            events.publish(conn, [published], START + timedelta(seconds=n))
    with writing(engine) as conn:  # PostgreSQL numbers the stream once it is committed
        events.number_committed(conn)
    if engine.dialect.name == "postgresql":  # as autovacuum would; SQLite keeps no statistics
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))

    with statements_naming(engine, "published_at") as seen, writing(engine) as conn:
        # A cutoff before every event: nothing goes.
        assert events.purge_before(conn, datetime(2000, 1, 1, tzinfo=UTC)) == 0

    statement, parameters = seen[0]
    plan = explained(engine, statement, parameters)
    assert "ix_events_position" in plan, plan
    assert "TEMP B-TREE" not in plan, plan  # SQLite sorting what it read
    assert "Sort" not in plan, plan  # PostgreSQL's
    assert "Seq Scan" not in plan, plan
