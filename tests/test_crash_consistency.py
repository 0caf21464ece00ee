"""Crash consistency: the server and the worker are SIGKILLed under load, and nothing is lost.

A real server (uvicorn) and a real ``scimgate worker`` run against a private
database (an SQLite file, then a PostgreSQL database). A few client threads
provision users and groups in three directories the way identity providers
do (lookups by ``userName``, creates, multi-attribute PATCHes, PUTs,
deactivations and reactivations, groups with several members added and removed
in one PATCH, deletions), while a chaos thread SIGKILLs the server, the worker
or both at seeded random moments (a server kill waits for a request in flight)
and starts them again on the same port and database. A request whose
connection died has an unknown outcome: its client reads the resource back,
finds the change either wholly stored or not at all, and sends it again in the
second case (see ``crash_support``). The server and the worker are forked from
a process that imported scimgate once, so that a restart takes a fraction of a
second instead of the seconds an import costs.

Afterwards, once the worker has drained, the test checks that:

- every acknowledged write (and every write found applied) is stored: each
  user's and group's state and version are what its client's model says;
- no write was found half applied;
- every change has exactly one event, with the state the change left: per user
  the ``user.*`` events, per group its ``group.*`` events, per membership its
  ``group.user_added/_removed`` events, in order, and no event besides;
- every event reached the webhook receiver at least once, and each
  directory's first deliveries arrived in ``sequence`` order.

Counts are printed, and written as JSON to ``$SCIMGATE_CRASH_REPORT`` when set.

Running it longer: ``SCIMGATE_CRASH_ROUNDS=N`` multiplies the number of kills
(8 per round and backend; the default, 1 round, is the CI size), and the
workload runs for as long as the kills take. ``SCIMGATE_CRASH_SEED`` replays a
seed the test printed (the thread interleaving still varies from run to run)::

    SCIMGATE_CRASH_ROUNDS=10 .venv/bin/pytest tests/test_crash_consistency.py -s -p no:randomly
"""

import fcntl
import json
import os
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from random import Random
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from conftest import ADMIN_TOKEN, LOOPBACK_RECEIVERS, free_port, postgres_database
from crash_support import (
    START_SECONDS,
    Actor,
    Chaos,
    GroupModel,
    Scim,
    ServerProcess,
    Stats,
    UserModel,
    WorkerProcess,
    snapshot_of,
)
from event_support import Published, published
from process_support import shared_launcher
from scimgate.service.administration import tenants
from scimgate.service.event_stream import safety
from scimgate.store.engine import open_engine
from scimgate.store.migrate import upgrade
from scimgate.store.tables.resources import groups, users
from scimgate.store.tables.webhooks import webhook_deliveries
from scimgate.store.transactions import reading
from webhook_support import Received, Reply, receiving, wait_until, wait_while_progressing

DIRECTORIES = 3
THREADS = 4
KILLS_PER_ROUND = {"server": 3, "worker": 3, "both": 2}
CALM_STEPS = 5
"""Steps each client does after the last restart before the workload stops."""
STALL_SECONDS = 60.0
"""The drain fails when no new event reaches the receiver for this long (leases last 1 s)."""
USER_EVENTS = {
    "user.created",
    "user.updated",
    "user.deactivated",
    "user.reactivated",
    "user.deleted",
}
GROUP_EVENTS = {"group.created", "group.updated", "group.deleted"}
MEMBERSHIP_EVENTS = {"group.user_added", "group.user_removed"}

SERVER_ENVIRONMENT = {
    "SCIMGATE_DIRECTORY_RATE": "0",
    "SCIMGATE_TOKEN_RATE": "0",
    **LOOPBACK_RECEIVERS,
}
WORKER_ENVIRONMENT = {
    # A killed worker's lease expires soon, so that another picks its delivery up.
    "SCIMGATE_LEASE_SECONDS": "1",
    "SCIMGATE_WEBHOOK_TIMEOUT": "0.5",
    **LOOPBACK_RECEIVERS,
    "SCIMGATE_WEBHOOK_RETRY_SCHEDULE": ",".join(["0.5"] * 20),
}


def _rounds() -> int:
    return max(1, int(os.environ.get("SCIMGATE_CRASH_ROUNDS", "1")))


def _seed() -> int:
    given = os.environ.get("SCIMGATE_CRASH_SEED")
    return int(given) if given else secrets.randbelow(2**32)


@contextmanager
def private_database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated database of this test's own on the backend."""
    if backend == "sqlite":
        _migrate(f"sqlite:///{tmp_path / 'crash.db'}")
        yield f"sqlite:///{tmp_path / 'crash.db'}"
        return
    request.getfixturevalue("postgres_url")  # skips (or fails in CI) without PostgreSQL
    with postgres_database("scimgate_crash") as url:
        _migrate(url)
        yield url


def _migrate(url: str) -> None:
    engine = open_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Directory:
    id: str
    token: str


def _directories(engine: Engine) -> tuple[str, list[Directory]]:
    organization = tenants.create_organization(engine, "crash")
    found = []
    for index in range(DIRECTORIES):
        created = tenants.create_directory(engine, organization.id, f"directory {index}")
        # Deactivations and deletions come fast here; the safety valve would hold them.
        safety.configure(engine, created.directory.id, max_count=0, max_percent=0)
        found.append(Directory(created.directory.id, created.token.secret))
    return organization.id, found


def _kill_plan(rng: Random) -> list[str]:
    plan = [target for target, count in KILLS_PER_ROUND.items() for _ in range(count * _rounds())]
    rng.shuffle(plan)
    return plan


@dataclass
class Report:
    """What the run did and what the checks found."""

    backend: str
    seed: int
    seconds: float = 0.0
    requests_sent: int = 0
    acknowledged: int = 0
    acknowledged_writes: int = 0
    writes_applied_without_answer: int = 0
    writes_resent_after_unknown_outcome: int = 0
    transport_failures: int = 0
    server_kills: int = 0
    worker_kills: int = 0
    server_kills_with_requests_in_flight: int = 0
    users_checked: int = 0
    groups_checked: int = 0
    changes_checked: int = 0
    lost: int = 0
    unexpected_events: int = 0
    partial: int = 0
    server_errors: int = 0
    events: int = 0
    deliveries: int = 0
    duplicate_deliveries: int = 0


def _write_report(report: Report) -> None:
    figures = vars(report)
    print("\ncrash consistency:", json.dumps(figures))
    target = os.environ.get("SCIMGATE_CRASH_REPORT")
    if not target:
        return
    # Both backends report to the one file, each under its own key (perhaps from two
    # pytest-xdist workers at once, hence the lock).
    with Path(target).open("a+") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        file.seek(0)
        text = file.read()
        existing = json.loads(text) if text.strip() else {}
        existing[report.backend] = figures
        file.seek(0)
        file.truncate()
        file.write(json.dumps(existing, indent=2) + "\n")


def _difference(expected: list[Any], actual: list[Any]) -> tuple[int, int]:
    """How many expected items are missing from ``actual``, and how many it has besides."""
    missing = Counter(map(repr, expected)) - Counter(map(repr, actual))
    extra = Counter(map(repr, actual)) - Counter(map(repr, expected))
    return sum(missing.values()), sum(extra.values())


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_kills_of_server_and_worker_lose_no_acknowledged_change_nor_event(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    seed = _seed()
    print(f"\nseed {seed} (SCIMGATE_CRASH_SEED={seed} replays it), backend {backend}")
    rng = Random(seed)
    report = Report(backend, seed)
    started = time.monotonic()
    with ExitStack() as stack:
        url = stack.enter_context(private_database(backend, tmp_path, request))
        engine = open_engine(url)
        stack.callback(engine.dispose)
        organization_id, directories = _directories(engine)
        receiver = stack.enter_context(receiving())
        # A short pause per delivery, so that worker kills find deliveries in flight.
        receiver.plan = lambda _: Reply(200, delay=0.01)

        launcher = shared_launcher()
        server = ServerProcess(
            launcher, url, free_port(), tmp_path / "server.log", **SERVER_ENVIRONMENT
        )
        worker = WorkerProcess(launcher, url, tmp_path / "worker.log", **WORKER_ENVIRONMENT)
        stack.callback(worker.stop)
        stack.callback(server.stop)
        server.start()
        worker.start()
        with httpx.Client(
            base_url=f"{server.url}/api/v1",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=60,
        ) as admin:
            hook = admin.post(
                "/webhooks", json={"url": receiver.url(), "organization_id": organization_id}
            )
            assert hook.status_code == 201, hook.text

        stats = Stats()
        actors = []
        for index in range(THREADS):
            clients = {each.id: Scim(server, each.id, each.token, stats) for each in directories}
            for client in clients.values():
                stack.callback(client.close)
            actors.append(Actor(index, Random(rng.getrandbits(64)), clients, stats))

        chaos = Chaos(server, worker, Random(rng.getrandbits(64)), _kill_plan(rng), stats)
        stopping = threading.Event()
        failures: list[BaseException] = []

        def work(actor: Actor) -> None:
            try:
                actor.run(stopping)
            except BaseException as exc:  # reported in the test's thread
                failures.append(exc)

        threads = [threading.Thread(target=work, args=(actor,)) for actor in actors]
        for thread in threads:
            thread.start()
        chaos.start()
        chaos.done.wait()
        # A little calm traffic after the last restart: every client does a few more steps.
        calm = [actor.steps + CALM_STEPS for actor in actors]
        try:
            wait_until(
                lambda: (
                    bool(failures)
                    or all(actor.steps >= goal for actor, goal in zip(actors, calm, strict=True))
                ),
                "every client goes on after the last restart",
                timeout=START_SECONDS,
            )
        finally:
            stopping.set()
        for thread in threads:
            thread.join(300)
        assert chaos.failure is None, chaos.failure
        assert not failures, failures
        assert not any(thread.is_alive() for thread in threads), "a client thread hangs"
        # No more kills to catch a delivery in flight: the backlog may drain at full speed.
        receiver.plan = lambda _: Reply(200)

        kills = chaos.counts()
        report.server_kills = kills["server"]
        report.worker_kills = kills["worker"]
        report.server_kills_with_requests_in_flight = sum(
            1 for kill in chaos.kills if kill.target != "worker" and kill.requests_in_flight
        )
        report.requests_sent = stats.sent
        report.acknowledged = stats.acknowledged
        report.acknowledged_writes = stats.acknowledged_writes
        report.writes_applied_without_answer = stats.applied_unacknowledged
        report.writes_resent_after_unknown_outcome = stats.not_applied_retried
        report.transport_failures = stats.transport_failures
        report.partial = len(stats.partial)
        report.server_errors = len(stats.server_errors)

        # Stop killing; wait until the worker has delivered every event.
        events = published(engine)
        expected_ids = {each.id for each in events}
        wait_while_progressing(
            lambda: len(expected_ids & {each.webhook_id for each in receiver.received()}),
            len(expected_ids),
            "the worker delivers every event",
            stall=STALL_SECONDS,
        )
        wait_until(lambda: _pending(engine) == 0, "no delivery is left pending", timeout=30)
        received = receiver.received()
        report.events = len(events)
        report.deliveries = len(received)
        report.duplicate_deliveries = len(received) - len({each.webhook_id for each in received})

        user_models = [user for actor in actors for user in actor.users.values()]
        group_models = [group for actor in actors for group in actor.groups.values()]
        memberships = {key: value for actor in actors for key, value in actor.memberships.items()}
        _check_store(engine, directories, server.url, user_models, group_models, report)
        _check_events(events, directories, user_models, group_models, memberships, report)
        report.seconds = round(time.monotonic() - started, 1)
        _write_report(report)

        assert not stats.server_errors, stats.server_errors
        assert not stats.partial, stats.partial
        assert not stats.refused, stats.refused
        assert not stats.gave_up, stats.gave_up
        assert report.lost == 0 and report.unexpected_events == 0, report
        assert report.server_kills >= 2 * _rounds() and report.worker_kills >= 2 * _rounds()
        assert report.server_kills_with_requests_in_flight, "no kill found a request in flight"
        _check_deliveries(events, received)


def _pending(engine: Engine) -> int:
    with reading(engine) as conn:
        return len(
            conn.execute(
                select(webhook_deliveries.c.id).where(webhook_deliveries.c.status != "delivered")
            ).all()
        )


def _check_store(
    engine: Engine,
    directories: list[Directory],
    url: str,
    user_models: list[UserModel],
    group_models: list[GroupModel],
    report: Report,
) -> None:
    """Each resource as its client's model says, read through SCIM; versions from the table."""
    listed_users: dict[str, dict[str, Any]] = {}
    listed_groups: dict[str, dict[str, Any]] = {}
    for directory in directories:
        with httpx.Client(
            base_url=f"{url}/scim/v2/{directory.id}",
            headers={"Authorization": f"Bearer {directory.token}"},
            timeout=60,
        ) as http:
            for path, into in (("/Users", listed_users), ("/Groups", listed_groups)):
                answer = http.get(path, params={"count": 1000})
                assert answer.status_code == 200, answer.text
                page = answer.json()
                assert page["totalResults"] == len(page.get("Resources", []))
                into.update({each["id"]: each for each in page.get("Resources", [])})
    with reading(engine) as conn:
        user_versions = dict(conn.execute(select(users.c.id, users.c.version)).all())
        group_versions = dict(conn.execute(select(groups.c.id, groups.c.version)).all())
    user_versions = {str(key): value for key, value in user_versions.items()}
    group_versions = {str(key): value for key, value in group_versions.items()}

    alive_users = {user.id: user for user in user_models if not user.deleted}
    assert set(listed_users) == set(alive_users), "users stored differ from those acknowledged"
    for user in alive_users.values():
        doc = listed_users[user.id]
        assert (doc["userName"], snapshot_of(doc)) == (user.user_name, user.state), user
        # Version 1 at creation, one more per change (each with its event).
        assert user_versions[user.id] == len(user.events), user
    alive_groups = {group.id: group for group in group_models if not group.deleted}
    assert set(listed_groups) == set(alive_groups), "groups stored differ from those acknowledged"
    for group in alive_groups.values():
        doc = listed_groups[group.id]
        members = {each["value"] for each in doc.get("members", [])}
        assert (doc["displayName"], members) == (group.name, group.members), group
        assert group_versions[group.id] == group.version, group
    report.users_checked = len(user_models)
    report.groups_checked = len(group_models)


def _check_events(
    events: list[Published],
    directories: list[Directory],
    user_models: list[UserModel],
    group_models: list[GroupModel],
    memberships: dict[tuple[str, str], list[str]],
    report: Report,
) -> None:
    """Exactly the events the models' changes call for, each once, with the state it left."""
    assert len({each.id for each in events}) == len(events)
    assert [each.seq for each in events] == sorted({each.seq for each in events})
    types = Counter(each.type for each in events)
    assert types["directory.activated"] == len(directories), types
    known = USER_EVENTS | GROUP_EVENTS | MEMBERSHIP_EVENTS | {"directory.activated"}
    assert set(types) <= known, types

    lost = unexpected = 0
    changes = 0
    for user in user_models:
        actual = [
            (each.type, snapshot_of(each.data["user"]["raw"]))
            for each in events
            if each.resource_id == user.id and each.type in USER_EVENTS
        ]
        missing, extra = _difference(user.events, actual)
        lost, unexpected, changes = lost + missing, unexpected + extra, changes + len(user.events)
        if not (missing or extra):
            assert actual == user.events, user
    for group in group_models:
        actual_group = [
            (each.type, each.data["group"]["name"])
            for each in events
            if each.resource_id == group.id and each.type in GROUP_EVENTS
        ]
        missing, extra = _difference(group.events, actual_group)
        lost, unexpected = lost + missing, unexpected + extra
        changes += len(group.events)
        if not (missing or extra):
            assert actual_group == group.events, group
    actual_memberships: dict[tuple[str, str], list[str]] = {}
    for each in events:
        if each.type in MEMBERSHIP_EVENTS:
            key = (each.data["group"]["id"], each.data["user"]["id"])
            actual_memberships.setdefault(key, []).append(each.type)
    for key in memberships.keys() | actual_memberships.keys():
        expected = memberships.get(key, [])
        actual_moves = actual_memberships.get(key, [])
        missing, extra = _difference(expected, actual_moves)
        lost, unexpected, changes = lost + missing, unexpected + extra, changes + len(expected)
        if not (missing or extra):
            assert actual_moves == expected, key
    report.lost = lost
    report.unexpected_events = unexpected
    report.changes_checked = changes


def _check_deliveries(events: list[Published], received: list[Received]) -> None:
    """Every event delivered (duplicates allowed), each directory's first deliveries in order."""
    assert {each.webhook_id for each in received} == {each.id for each in events}
    assert all(each.event["id"] == each.webhook_id for each in received)
    first_seen: dict[str, list[int]] = {}
    seen: set[str] = set()
    for each in received:
        if each.webhook_id in seen:
            continue
        seen.add(each.webhook_id)
        first_seen.setdefault(each.event["directory_id"], []).append(each.event["sequence"])
    for directory_id, sequences in first_seen.items():
        assert sequences == sorted(sequences), f"directory {directory_id} delivered out of order"
