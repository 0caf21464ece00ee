"""Fan-out without endpoints: the position moves past what is published, reading none of it.

An app that follows the events API registers no webhook endpoint; fan-out then has
nothing to queue, and used to read every published event again all the same. These
tests run it on a database of their own, on both backends.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from event_support import private_database
from factories import scope_of
from scimgate.scim.resources import UserResource
from scimgate.service.administration import tenants
from scimgate.service.event_stream import webhooks
from scimgate.service.event_stream.delivery import FANOUT_POSITION, fan_out
from scimgate.service.provisioning import users
from scimgate.store import events, progress, webhook_deliveries
from scimgate.store.transactions import reading
from webhook_support import LOOPBACK


@pytest.fixture
def engine(database_url: str, tmp_path: Path) -> Iterator[Engine]:
    with private_database(database_url, tmp_path) as (_, engine):
        yield engine


def _provision(engine: Engine, directory_id: str, *names: str) -> None:
    scope = scope_of(engine, directory_id)
    for name in names:
        users.create_user(scope, UserResource(user_name=name, active=True))


def _position(engine: Engine) -> tuple[int, int]:
    """Fan-out's position, and the newest in the stream."""
    with reading(engine) as conn:
        return progress.position(conn, FANOUT_POSITION), events.last_seq(conn)


def _queued(engine: Engine, endpoint_id: str) -> list[int]:
    with reading(engine) as conn:
        return sorted(
            delivery.event_seq
            for delivery in webhook_deliveries.list_deliveries(conn, endpoint_id, None, 100)
        )


def test_without_endpoints_the_position_moves_past_every_event_unread(engine: Engine) -> None:
    organization = tenants.create_organization(engine, "fan-out")
    directory = tenants.create_directory(engine, organization.id, "no endpoints").directory
    _provision(engine, directory.id, "a@example.com", "b@example.com", "c@example.com")
    statements: list[str] = []

    def keep(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", keep)
    try:
        assert fan_out(engine, batch=2) == 0
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    position, newest = _position(engine)
    assert newest == 3 and position == newest
    # Only the newest position was read of the events: none of their rows.
    assert not [statement for statement in statements if "events.type" in statement]


def test_an_endpoint_made_later_gets_the_events_published_after_it(engine: Engine) -> None:
    organization = tenants.create_organization(engine, "fan-out")
    directory = tenants.create_directory(engine, organization.id, "endpoint later").directory
    _provision(engine, directory.id, "before@example.com")
    assert fan_out(engine) == 0
    endpoint = webhooks.register(
        engine, "http://127.0.0.1:9/hook", organization_id=organization.id, allowed=LOOPBACK
    ).endpoint
    _provision(engine, directory.id, "after-1@example.com", "after-2@example.com")

    assert fan_out(engine) == 2

    assert _queued(engine, endpoint.id) == [2, 3]
    assert _position(engine) == (3, 3)
