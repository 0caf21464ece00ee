"""Events published before stream positions existed keep their sequence numbers as positions.

A reader holding an integer cursor from before the upgrade carries on where it
stopped, and the events published after the upgrade come after every sequence
number ever handed out, even when retention had removed every event.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, select

from event_support import private_database
from factories import new_scope
from migration_support import migrate_back
from scimgate.scim.resources import UserResource
from scimgate.service.event_stream import event_feed
from scimgate.service.event_stream.event_feed import PURGED_THROUGH, EventFilter
from scimgate.service.provisioning import users
from scimgate.service.provisioning.scope import Scope
from scimgate.store import progress
from scimgate.store.ids import new_id, utcnow
from scimgate.store.migrate import upgrade
from scimgate.store.tables.event_stream import events

BEFORE = "0016"
EVERYTHING = EventFilter()


@pytest.fixture
def engine_before(database_url: str, tmp_path: Path) -> Iterator[tuple[Engine, Scope]]:
    """An engine on a database of its own, on the same backend, with one directory, migrated
    back to just before (the directory is made by today's code, then the schema goes back)."""
    with private_database(database_url, tmp_path) as (_, engine):
        scope = _directory(engine)
        migrate_back(engine, BEFORE)
        yield engine, scope


def _directory(engine: Engine) -> Scope:
    return new_scope(engine, "before positions")


def _publish_old_style(engine: Engine, scope: Scope, count: int) -> list[int]:
    """Events as the previous version stored them (no position); their sequence numbers."""
    rows = [
        {
            "id": new_id(),
            "organization_id": scope.directory.organization_id,
            "directory_id": scope.directory_id,
            "type": "user.created",
            "resource_id": new_id(),
            "occurred_at": utcnow(),
            "data": {},
            "published_at": utcnow(),
        }
        for _ in range(count)
    ]
    with engine.begin() as conn:
        for row in rows:
            conn.execute(events.insert().values(**row))
        return list(conn.execute(select(events.c.seq).order_by(events.c.seq)).scalars())


def _create(scope: Scope) -> str:
    return users.create_user(scope, UserResource(user_name=f"{new_id()}@x.example")).id


def test_a_cursor_from_before_the_upgrade_carries_on(engine_before: tuple[Engine, Scope]) -> None:
    engine_before, scope = engine_before
    sequences = _publish_old_style(engine_before, scope, 4)
    upgrade(engine_before)

    page = event_feed.read_events(engine_before, sequences[1], 10, EVERYTHING)
    assert [event["sequence"] for event in page.events] == sequences[2:]
    created = _create(scope)
    following = event_feed.read_events(engine_before, page.next_cursor, 10, EVERYTHING)
    assert [event["data"]["user"]["id"] for event in following.events] == [created]
    assert following.events[0]["sequence"] > sequences[-1]


def test_positions_after_the_upgrade_pass_every_sequence_retention_removed(
    engine_before: tuple[Engine, Scope],
) -> None:
    engine_before, scope = engine_before
    sequences = _publish_old_style(engine_before, scope, 3)
    with engine_before.begin() as conn:
        conn.execute(delete(events))
        progress.advance(conn, PURGED_THROUGH, sequences[-1])
    upgrade(engine_before)

    created = _create(scope)
    page = event_feed.read_events(engine_before, sequences[-1], 10, EVERYTHING)
    assert [event["data"]["user"]["id"] for event in page.events] == [created]
