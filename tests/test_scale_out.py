"""Scale-out: three server processes and two delivery workers on one PostgreSQL database.

Six threads provision three directories of one organization through the three
servers in turn, racing each other on purpose (two threads look up and create
the same user; several add members to the same group at once). Whatever a
server acknowledged must then be true exactly once: in the directory, in the
event stream, and (after de-duplication) at the webhook receiver.
"""

import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from conftest import ADMIN_TOKEN, METRICS_AUTH, METRICS_TOKEN, free_port, postgres_database, serving
from scim_payloads import group, patch, user
from scimgate.cli.main import app
from scimgate.service.administration import tenants
from scimgate.service.event_stream import safety
from scimgate.store.engine import open_engine
from scimgate.store.migrate import upgrade
from webhook_support import Receiver, wait_until, wait_while_progressing, worker_processes

THREADS = 6
USERS = 30
"""Users per directory: the first ten are deactivated, the others join groups."""
GROUPS = 3
DEACTIVATED = range(10)
MEMBERS = range(10, USERS)
STALL_SECONDS = 60.0
"""The drain fails when no new event reaches the receiver for this long."""


@pytest.fixture
def private_postgres(database_url: str) -> Iterator[str]:
    """A migrated PostgreSQL database of this test's own, dropped after it."""
    if not database_url.startswith("postgresql"):
        pytest.skip("several server processes share a PostgreSQL database")
    with postgres_database("scimgate_scale") as url:
        engine = open_engine(url)
        try:
            upgrade(engine)
            yield url
        finally:
            engine.dispose()


@dataclass(frozen=True)
class Directory:
    id: str
    token: str


@dataclass(frozen=True)
class Done:
    """One acknowledged (2xx) request and what it did."""

    action: str
    """``create``, ``deactivate``, ``add`` or ``remove``."""

    directory_id: str
    server: int
    user_name: str = ""
    user_id: str = ""
    group_id: str = ""


@dataclass
class Ledger:
    """What the load threads were told, shared between them."""

    done: list[Done] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    """Answers that acknowledged nothing and were not an expected 409."""

    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, done: Done) -> None:
        with self.lock:
            self.done.append(done)

    def refuse(self, what: str) -> None:
        with self.lock:
            self.refused.append(what)

    def of(self, action: str) -> list[Done]:
        return [each for each in self.done if each.action == action]


class Caller:
    """One load thread's clients: each request goes to the next of the servers."""

    def __init__(self, servers: list[str], start: int) -> None:
        self.clients = [httpx.Client(base_url=url, timeout=30) for url in servers]
        self.turn = start

    def __call__(
        self, directory: Directory, method: str, path: str, **kwargs: Any
    ) -> tuple[int, httpx.Response]:
        server = self.turn % len(self.clients)
        self.turn += 1
        answer = self.clients[server].request(
            method,
            f"/scim/v2/{directory.id}{path}",
            headers={
                "Authorization": f"Bearer {directory.token}",
                "Content-Type": "application/scim+json",
            },
            **kwargs,
        )
        return server, answer

    def close(self) -> None:
        for client in self.clients:
            client.close()


Task = Callable[[Caller], None]


def run_concurrently(servers: list[str], tasks: list[Task]) -> None:
    """Run the tasks on THREADS threads, each taking the next task until none is left."""
    pending = iter(tasks)
    lock = threading.Lock()
    failures: list[BaseException] = []

    def work(index: int) -> None:
        caller = Caller(servers, index)
        try:
            while True:
                with lock:
                    task = next(pending, None)
                if task is None:
                    return
                task(caller)
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)
        finally:
            caller.close()

    threads = [threading.Thread(target=work, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures


def create_user(ledger: Ledger, directory: Directory, user_name: str) -> Task:
    """Look the user up first, as identity providers do, and create it when not found."""

    def task(call: Caller) -> None:
        _, found = call(directory, "GET", "/Users", params={"filter": f'userName eq "{user_name}"'})
        if found.status_code != 200:
            ledger.refuse(f"lookup {user_name}: {found.status_code} {found.text}")
            return
        if found.json()["totalResults"]:
            return
        server, created = call(directory, "POST", "/Users", json=user(user_name, active=True))
        if created.status_code == 201:
            ledger.record(Done("create", directory.id, server, user_name, created.json()["id"]))
        elif created.status_code != 409:  # 409: another thread created it first
            ledger.refuse(f"create {user_name}: {created.status_code} {created.text}")

    return task


def change(ledger: Ledger, directory: Directory, done: Done, path: str, body: Any) -> Task:
    def task(call: Caller) -> None:
        server, answer = call(directory, "PATCH", path, json=body)
        if answer.is_success:
            ledger.record(Done(**{**vars(done), "server": server}))
        else:
            ledger.refuse(f"{done.action} {path}: {answer.status_code} {answer.text}")

    return task


def deactivate(ledger: Ledger, directory: Directory, user_id: str) -> Task:
    body = patch({"op": "replace", "path": "active", "value": False})
    done = Done("deactivate", directory.id, -1, user_id=user_id)
    return change(ledger, directory, done, f"/Users/{user_id}", body)


def membership(
    ledger: Ledger, directory: Directory, action: str, group_id: str, user_id: str
) -> Task:
    if action == "add":
        body = patch({"op": "add", "path": "members", "value": [{"value": user_id}]})
    else:
        body = patch({"op": "remove", "path": f'members[value eq "{user_id}"]'})
    done = Done(action, directory.id, -1, user_id=user_id, group_id=group_id)
    return change(ledger, directory, done, f"/Groups/{group_id}", body)


def read_events(admin: httpx.Client, organization_id: str) -> list[dict[str, Any]]:
    """Every event of the organization, paging through the events API."""
    found: list[dict[str, Any]] = []
    after = 0
    while True:
        answer = admin.get(
            "/events", params={"after": after, "limit": 100, "organization_id": organization_id}
        )
        assert answer.status_code == 200, answer.text
        page = answer.json()
        if not page["data"]:
            return found
        found.extend(page["data"])
        after = page["next_cursor"]


def user_ids(events: list[dict[str, Any]], kind: str) -> Counter[str]:
    return Counter(each["data"]["user"]["id"] for each in events if each["type"] == kind)


def memberships(events: list[dict[str, Any]], kind: str) -> Counter[tuple[str, str]]:
    return Counter(
        (each["data"]["group"]["id"], each["data"]["user"]["id"])
        for each in events
        if each["type"] == kind
    )


def test_three_servers_and_two_workers_agree_on_every_acknowledged_change(
    private_postgres: str, receiver: Receiver, tmp_path: Path
) -> None:
    engine = open_engine(private_postgres)
    organization = tenants.create_organization(engine, "scale-out")
    directories = []
    for index in range(3):
        created = tenants.create_directory(engine, organization.id, f"directory {index}")
        # A third of each directory deactivated at once would trip the safety valve.
        safety.configure(engine, created.directory.id, max_count=0, max_percent=0)
        directories.append(Directory(created.directory.id, created.token.secret))
    engine.dispose()

    with ExitStack() as stack:
        stack.enter_context(worker_processes(private_postgres, tmp_path, count=2))
        # The servers start side by side; the stack stops each that started.
        with ThreadPoolExecutor(3) as pool:
            starting = [
                pool.submit(
                    stack.enter_context,
                    serving(private_postgres, tmp_path / f"server-{index}.log"),
                )
                for index in range(3)
            ]
        servers = [each.result() for each in starting]
        admin = stack.enter_context(
            httpx.Client(
                base_url=f"{servers[0]}/api/v1",
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                timeout=30,
            )
        )
        hook = admin.post(
            "/webhooks", json={"url": receiver.url(), "organization_id": organization.id}
        )
        assert hook.status_code == 201, hook.text

        ledger = Ledger()
        # Every user twice: two threads race to look it up and create it.
        run_concurrently(
            servers,
            [
                create_user(ledger, directory, f"user{index}@example.com")
                for index in range(USERS)
                for directory in directories
                for _ in range(2)
            ],
        )
        ids = {(each.directory_id, each.user_name): each.user_id for each in ledger.of("create")}
        assert len(ids) == len(ledger.of("create")), "a user was created twice"
        assert len(ids) == USERS * len(directories), ledger.refused

        groups: dict[str, list[str]] = {}
        with httpx.Client(base_url=servers[1], timeout=30) as http:
            for directory in directories:
                groups[directory.id] = []
                for index in range(GROUPS):
                    answer = http.post(
                        f"/scim/v2/{directory.id}/Groups",
                        json=group(f"team {index}"),
                        headers={"Authorization": f"Bearer {directory.token}"},
                    )
                    assert answer.status_code == 201, answer.text
                    groups[directory.id].append(answer.json()["id"])

        def member(directory: Directory, index: int) -> tuple[str, str]:
            return groups[directory.id][index % GROUPS], ids[
                (directory.id, f"user{index}@example.com")
            ]

        # Deactivations, and many members joining the same few groups at once.
        run_concurrently(
            servers,
            [
                deactivate(ledger, directory, ids[(directory.id, f"user{index}@example.com")])
                for index in DEACTIVATED
                for directory in directories
            ]
            + [
                membership(ledger, directory, "add", *member(directory, index))
                for index in MEMBERS
                for directory in directories
            ],
        )
        # Every other member leaves again.
        run_concurrently(
            servers,
            [
                membership(ledger, directory, "remove", *member(directory, index))
                for index in MEMBERS
                if index % 2
                for directory in directories
            ],
        )
        assert not ledger.refused, ledger.refused
        assert {each.server for each in ledger.done} == {0, 1, 2}

        # The directories hold each acknowledged change, exactly once.
        acknowledged = ledger.of("create")
        deactivated = {each.user_id for each in ledger.of("deactivate")}
        added = Counter((each.group_id, each.user_id) for each in ledger.of("add"))
        removed = Counter((each.group_id, each.user_id) for each in ledger.of("remove"))
        with httpx.Client(base_url=servers[2], timeout=30) as http:
            for directory in directories:
                auth = {"Authorization": f"Bearer {directory.token}"}
                listed = http.get(
                    f"/scim/v2/{directory.id}/Users", params={"count": 1000}, headers=auth
                ).json()["Resources"]
                expected = {
                    each.user_name: each.user_id
                    for each in acknowledged
                    if each.directory_id == directory.id
                }
                assert sorted(each["userName"] for each in listed) == sorted(expected)
                for each in listed:
                    assert each["id"] == expected[each["userName"]]
                    assert each["active"] is (each["id"] not in deactivated)
                for group_id in groups[directory.id]:
                    answer = http.get(f"/scim/v2/{directory.id}/Groups/{group_id}", headers=auth)
                    members = {each["value"] for each in answer.json().get("members", [])}
                    assert members == {
                        user_id for (joined, user_id) in added - removed if joined == group_id
                    }

        # The event stream: ordered, no duplicates, one event per acknowledged change.
        events = read_events(admin, organization.id)
        sequences = [each["sequence"] for each in events]
        assert sequences == sorted(set(sequences))
        assert len({each["id"] for each in events}) == len(events)
        assert user_ids(events, "user.created") == Counter(each.user_id for each in acknowledged)
        assert user_ids(events, "user.deactivated") == Counter(deactivated)
        assert memberships(events, "group.user_added") == added
        assert memberships(events, "group.user_removed") == removed

        # The webhook receiver: every event at least once, nothing else.
        expected_ids = {each["id"] for each in events}
        wait_while_progressing(
            lambda: len(expected_ids & {each.webhook_id for each in receiver.received()}),
            len(expected_ids),
            "the workers deliver every event",
            stall=STALL_SECONDS,
        )
    received = receiver.received()
    assert {each.webhook_id for each in received} == expected_ids
    assert all(each.event["id"] == each.webhook_id for each in received)


def test_serve_runs_several_server_processes_on_postgresql(
    private_postgres: str, tmp_path: Path
) -> None:
    engine = open_engine(private_postgres)
    organization = tenants.create_organization(engine, "several processes")
    created = tenants.create_directory(engine, organization.id, "directory")
    engine.dispose()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCIMGATE_")}
    env.update(SCIMGATE_METRICS_TOKEN=METRICS_TOKEN)
    log = tmp_path / "serve.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "scimgate",
                "serve",
                "--workers",
                "2",
                "--no-worker",
                "--port",
                str(port),
                "--database-url",
                private_postgres,
            ],
            cwd=tmp_path,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(url), "the server processes start", timeout=90)
        children = _server_processes(process.pid)
        assert len(children) == 2, log.read_text()
        with httpx.Client(
            base_url=f"{url}/scim/v2/{created.directory.id}",
            headers={"Authorization": f"Bearer {created.token.secret}"},
            timeout=30,
        ) as http:
            # Each process reads the database the command was given, not the default file.
            answers = [
                http.post("/Users", json=user(f"u{index}"), headers={"Connection": "close"})
                for index in range(6)
            ]
            statuses = [each.status_code for each in answers]
            assert statuses == [201] * 6, (answers[0].text, log.read_text())
            listed = http.get("/Users").json()
            assert listed["totalResults"] == 6
        # Whichever process a scrape reaches counts the requests every process answered.
        for _ in range(6):
            scraped = httpx.get(
                f"{url}/metrics", headers={"Connection": "close", **METRICS_AUTH}
            ).text
            assert _scim_requests_counted(scraped) == 7, scraped
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()]
    assert not (tmp_path / "scimgate.db").exists()


def test_serve_refuses_several_processes_on_sqlite(tmp_path: Path) -> None:
    database = tmp_path / "scimgate.db"
    result = CliRunner().invoke(
        app, ["serve", "--workers", "2", "--database-url", f"sqlite:///{database}"]
    )
    assert result.exit_code == 2
    assert "PostgreSQL" in result.output
    assert not database.exists()


def _scim_requests_counted(exposition: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in exposition.splitlines()
        if line.startswith("scimgate_scim_requests_total{")
    )


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _server_processes(parent: int) -> list[int]:
    """The processes ``parent`` started to serve requests (multiprocessing's spawned children)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:"))
        if int(ppid) == parent and b"spawn_main" in command:
            found.append(int(entry.name))
    return found
