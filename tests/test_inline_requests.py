"""Short SCIM requests on SQLite run on the event loop, holding this process's write turn.

A short write that finds the turn taken waits for it without holding the loop: other
requests are answered meanwhile, and the write is answered once the turn is left. A
request that is not short, and any request on PostgreSQL, takes a worker thread.
"""

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import text

from conftest import free_port
from scimgate.api import scim_routes
from scimgate.api.app import create_app
from scimgate.api.inline_requests import INLINE_BODY_BYTES, is_short
from scimgate.config import Settings
from scimgate.service.administration import tenants
from scimgate.store.engine import open_engine, turn_if_free, when_turn_left, writer
from scimgate.store.migrate import upgrade

WAIT = 30.0
"""Seconds a test waits for a thread to reach a point; never reached unless it is broken."""

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


def _user(name: str) -> dict[str, Any]:
    return {"schemas": [USER_SCHEMA], "userName": f"{name}@example.com"}


# Which requests are short


@pytest.mark.parametrize(
    ("handler", "parameters", "body", "short"),
    [
        (scim_routes.create_user, {}, b"{}", True),
        (scim_routes.create_user, {}, b" " * (INLINE_BODY_BYTES + 1), False),
        (scim_routes.get_user, {"attributes": "userName"}, b"", True),
        (scim_routes.patch_user, {}, b"{}", True),
        (scim_routes.replace_user, {}, b"{}", True),
        (scim_routes.delete_user, {}, b"", False),
        (scim_routes.list_users, {"filter": 'userName eq "a@example.com"'}, b"", True),
        (scim_routes.list_users, {"filter": 'externalId eq "7"', "count": "1"}, b"", True),
        (scim_routes.list_users, {"filter": 'userName sw "a"'}, b"", False),
        (scim_routes.list_users, {"filter": 'userName eq "a"', "sortBy": "id"}, b"", False),
        (scim_routes.list_users, {}, b"", False),
        (
            scim_routes.list_groups,
            {"filter": 'displayName eq "Sales"', "excludedAttributes": "members"},
            b"",
            True,
        ),
        (scim_routes.list_groups, {"filter": 'displayName eq "Sales"'}, b"", False),
        (scim_routes.patch_group, {}, b"{}", True),
        (scim_routes.patch_group, {"attributes": "members"}, b"{}", False),
        (scim_routes.get_group, {}, b"", False),
        (scim_routes.bulk_request, {}, b"{}", False),
        (scim_routes.search_users, {}, b"{}", False),
    ],
)
def test_a_request_is_short_only_when_its_work_is_bounded_by_itself(
    handler: scim_routes.Handler, parameters: dict[str, str], body: bytes, short: bool
) -> None:
    assert is_short(handler, parameters, body) is short


# The write turn


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'scimgate.db'}"
    upgrade(open_engine(url))
    return url


def test_the_turn_is_taken_only_when_no_other_thread_has_it(sqlite_url: str) -> None:
    engine = open_engine(sqlite_url)
    with turn_if_free(engine) as taken:
        assert taken
        with turn_if_free(engine) as again:  # the same thread: the turn is reentrant
            assert again
        seen: list[bool] = []

        def elsewhere() -> None:
            with turn_if_free(engine) as other:
                seen.append(other)

        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join(WAIT)
        assert seen == [False]


def test_a_thread_leaving_the_turn_calls_what_waits_for_it_once(sqlite_url: str) -> None:
    engine = open_engine(sqlite_url)
    called: list[str] = []
    assert when_turn_left(engine, lambda: called.append("left"))
    assert called == []
    with writer(engine):
        pass
    with writer(engine):
        pass
    assert called == ["left"]


def test_a_waiter_that_fails_costs_the_thread_leaving_the_turn_nothing(sqlite_url: str) -> None:
    engine = open_engine(sqlite_url)
    called: list[str] = []

    def failing() -> None:
        raise RuntimeError("Event loop is closed")

    when_turn_left(engine, failing)
    when_turn_left(engine, lambda: called.append("after"))
    with writer(engine):
        pass
    assert called == ["after"]


def test_postgresql_has_no_turn(postgres_url: str) -> None:
    engine = open_engine(postgres_url)
    with turn_if_free(engine) as taken:
        assert not taken
    assert not when_turn_left(engine, lambda: None)


# Through the application


@pytest.fixture
def served(sqlite_url: str) -> Iterator[tuple[httpx.Client, Any]]:
    """The application served on a loopback port by this process (its engine at hand), and a
    client of a directory's SCIM base URL."""
    engine = open_engine(sqlite_url)
    organization = tenants.create_organization(engine, "inline")
    made = tenants.create_directory(engine, organization.id, "inline")
    app = create_app(Settings(database_url=sqlite_url))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = threading.Thread(target=server.run)
    serving.start()
    deadline = time.monotonic() + WAIT
    while not server.started:
        assert serving.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}/scim/v2/{made.directory.id}",
        headers={
            "Authorization": f"Bearer {made.token.secret}",
            "Content-Type": "application/scim+json",
        },
        timeout=WAIT,
    )
    try:
        yield client, app.state.engine
    finally:
        client.close()
        server.should_exit = True
        serving.join(WAIT)


def test_a_short_write_waits_for_the_turn_while_other_requests_are_answered(
    served: tuple[httpx.Client, Any],
) -> None:
    client, engine = served
    assert client.post("/Users", json=_user("first")).status_code == 201
    held, release = threading.Event(), threading.Event()

    def holding_the_turn() -> None:
        with writer(engine):
            held.set()
            assert release.wait(WAIT)

    holder = threading.Thread(target=holding_the_turn)
    holder.start()
    try:
        assert held.wait(WAIT)
        with ThreadPoolExecutor(1) as pool:
            creating = pool.submit(client.post, "/Users", json=_user("second"))
            deadline = time.monotonic() + WAIT
            while not engine.scimgate_kept_connections.waiting:
                assert time.monotonic() < deadline, "the create never waited for the turn"
                time.sleep(0.01)
            # The loop is free: a lookup is answered (by a worker thread) meanwhile.
            found = client.get("/Users", params={"filter": 'userName eq "first@example.com"'})
            assert found.status_code == 200
            assert found.json()["totalResults"] == 1
            assert not creating.done()
            release.set()
            assert creating.result(WAIT).status_code == 201
    finally:
        release.set()
        holder.join(WAIT)
    listed = client.get("/Users", params={"filter": 'userName eq "second@example.com"'})
    assert listed.json()["totalResults"] == 1


def test_concurrent_creates_each_get_their_own_answer_and_event(
    served: tuple[httpx.Client, Any],
) -> None:
    client, engine = served
    names = [f"user{n}" for n in range(12)] + ["user3"]  # one taken by another of the burst

    def create(name: str) -> int:
        body = {"schemas": [USER_SCHEMA], "userName": f"{name}@example.com"}
        return client.post("/Users", json=body).status_code

    with ThreadPoolExecutor(len(names)) as pool:
        statuses = list(pool.map(create, names))
    assert sorted(statuses) == [201] * 12 + [409]
    listed = client.get("/Users", params={"count": "50"}).json()["Resources"]
    assert sorted(each["userName"] for each in listed) == sorted(
        f"user{n}@example.com" for n in range(12)
    )
    with engine.connect() as conn:
        created = conn.execute(
            text("SELECT resource_id FROM events WHERE type = 'user.created'")
        ).scalars()
        assert sorted(created) == sorted(each["id"] for each in listed)
