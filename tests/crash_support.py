"""Helpers for the crash-consistency test: killable processes, a chaos thread, IdP clients.

The clients model what an identity provider does when scimgate goes away in
the middle of a request: the outcome is unknown, so before trying again the
client reads the resource back (a lookup by ``userName`` or ``displayName``
before a create, a read of the resource before anything else) and finds its
change either wholly applied or not applied at all. Each client thread owns
the users and groups it creates, so its model of them is exact: whatever the
model says must be stored, and every change the model records must have
exactly one event.
"""

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Any

import httpx

from conftest import ADMIN_TOKEN
from process_support import Launcher, Restartable
from scim_payloads import ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA, patch

START_SECONDS = 90.0
"""How long a (re)started server may take to answer ``/healthz`` on a loaded machine."""

ATTEMPTS = 12
"""Tries of one write before a client gives up on it (each after reading the outcome back)."""


class ServerProcess(Restartable):
    """The SCIM server on a fixed port; ``up`` is set while it answers."""

    def __init__(
        self, launcher: Launcher, database_url: str, port: int, log: Path, **environment: str
    ) -> None:
        super().__init__(
            launcher,
            "server",
            str(port),
            log,
            {
                "SCIMGATE_DATABASE_URL": database_url,
                "SCIMGATE_ADMIN_TOKEN": ADMIN_TOKEN,
                **environment,
            },
        )
        self.url = f"http://127.0.0.1:{port}"
        self.up = threading.Event()
        """Set while the server answers; cleared just before it is killed."""

    def start(self) -> None:
        super().start()
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.exited():
                raise RuntimeError(f"the server exited:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    self.up.set()
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"the server did not start within {START_SECONDS} s")

    def kill(self) -> None:
        self.up.clear()
        super().kill()

    def stop(self) -> None:
        self.up.clear()
        super().stop()

    def wait_up(self) -> None:
        if not self.up.wait(START_SECONDS * 2):
            raise AssertionError("the server did not come back")


class WorkerProcess(Restartable):
    """``scimgate worker`` on the database."""

    def __init__(
        self, launcher: Launcher, database_url: str, log: Path, **environment: str
    ) -> None:
        super().__init__(launcher, "worker", database_url, log, environment)


@dataclass
class Stats:
    """What the clients sent and were told, shared between their threads."""

    sent: int = 0
    acknowledged: int = 0
    acknowledged_writes: int = 0
    transport_failures: int = 0
    in_flight: int = 0
    applied_unacknowledged: int = 0
    """Writes whose answer was lost, found applied when read back."""

    not_applied_retried: int = 0
    """Writes whose answer was lost, found not applied when read back, and sent again."""

    server_errors: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    """Writes answered with a 4xx the workload never provokes."""

    partial: list[str] = field(default_factory=list)
    """Writes found half applied after their answer was lost."""

    gave_up: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def note(self, kind: str, what: str) -> None:
        with self.lock:
            getattr(self, kind).append(what)


class Scim:
    """One client thread's connection to one directory, through restarts of the server."""

    def __init__(self, server: ServerProcess, directory_id: str, token: str, stats: Stats) -> None:
        self.server = server
        self.stats = stats
        self.http = httpx.Client(
            base_url=f"{server.url}/scim/v2/{directory_id}",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
            timeout=60,
        )

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        """One request; None when the connection failed (the server was killed)."""
        self.stats.add(sent=1, in_flight=1)
        try:
            answer = self.http.request(method, path, **kwargs)
        except httpx.TransportError:
            self.stats.add(transport_failures=1)
            self.server.wait_up()
            return None
        finally:
            self.stats.add(in_flight=-1)
        if answer.is_success:
            self.stats.add(acknowledged=1, acknowledged_writes=int(method != "GET"))
        elif answer.status_code >= 500:
            self.stats.note("server_errors", f"{method} {path}: {answer.status_code} {answer.text}")
        return answer

    def read(self, path: str, **params: Any) -> httpx.Response:
        """A read, repeated until the server answers it."""
        for _ in range(ATTEMPTS):
            answer = self.send("GET", path, params=params)
            if answer is not None and answer.status_code < 500:
                return answer
            time.sleep(0.2)
        raise AssertionError(f"GET {path} got no answer in {ATTEMPTS} tries")

    def close(self) -> None:
        self.http.close()


Snapshot = tuple[str | None, str | None, str | None, bool | None]
"""A user's display name, title, department and ``active``: what the workload changes."""


def snapshot_of(doc: dict[str, Any]) -> Snapshot:
    return (
        doc.get("displayName"),
        doc.get("title"),
        doc.get(ENTERPRISE_SCHEMA, {}).get("department"),
        doc.get("active"),
    )


@dataclass
class UserModel:
    id: str
    directory_id: str
    user_name: str
    state: Snapshot
    deleted: bool = False
    events: list[tuple[str, Snapshot]] = field(default_factory=list)
    """The ``user.*`` events its changes must have published, in order."""

    @property
    def active(self) -> bool:
        return self.state[3] is True

    def changed(self, kind: str, state: Snapshot) -> None:
        self.state = state
        self.events.append((kind, state))


@dataclass
class GroupModel:
    id: str
    directory_id: str
    name: str
    members: set[str]
    version: int = 1
    deleted: bool = False
    events: list[tuple[str, str]] = field(default_factory=list)
    """The ``group.created/updated/deleted`` events, with the name each carries."""


def user_document(user_name: str, state: Snapshot) -> dict[str, Any]:
    display_name, title, department, active = state
    return {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "userName": user_name,
        "displayName": display_name,
        "title": title,
        "active": active,
        "emails": [{"value": user_name, "type": "work", "primary": True}],
        ENTERPRISE_SCHEMA: {"department": department},
    }


Verdict = str
"""``new`` (the change is stored whole), ``old`` (nothing of it is), ``partial`` (a bug)."""


class Actor:
    """One identity provider client thread: it provisions users and groups it alone owns."""

    USERS_PER_DIRECTORY = 8
    GROUPS_PER_DIRECTORY = 2
    PAUSE_SECONDS = 0.02
    """A client's pause between steps. The kills, not the volume, are what is tested: the
    pause keeps the workload's events to what the worker delivers within seconds of the last
    kill (all of them go to one endpoint, one at a time), before the checks can begin."""

    def __init__(
        self,
        index: int,
        rng: Random,
        clients: dict[str, Scim],
        stats: Stats,
    ) -> None:
        self.index = index
        self.rng = rng
        self.clients = clients
        self.stats = stats
        self.users: dict[str, UserModel] = {}
        self.groups: dict[str, GroupModel] = {}
        self.memberships: dict[tuple[str, str], list[str]] = {}
        """(group id, user id): the ``group.user_added/_removed`` events, in order."""

        self.counter = 0
        self.steps = 0
        """Steps done so far."""

    def fresh(self, what: str) -> str:
        self.counter += 1
        return f"{what} {self.index}-{self.counter}"

    def live_users(self, directory_id: str | None = None) -> list[UserModel]:
        return [
            user
            for user in self.users.values()
            if not user.deleted and directory_id in (None, user.directory_id)
        ]

    def live_groups(self) -> list[GroupModel]:
        return [group for group in self.groups.values() if not group.deleted]

    def run(self, stopping: threading.Event) -> None:
        while not stopping.is_set():
            self.step()
            self.steps += 1
            stopping.wait(self.PAUSE_SECONDS)

    def step(self) -> None:
        directory_id = self.rng.choice(sorted(self.clients))
        users = self.live_users(directory_id)
        groups = [group for group in self.live_groups() if group.directory_id == directory_id]
        roll = self.rng.random()
        if len(users) < self.USERS_PER_DIRECTORY and (roll < 0.3 or len(users) < 2):
            self.create_user(directory_id)
        elif len(groups) < self.GROUPS_PER_DIRECTORY and roll < 0.4:
            self.create_group(directory_id, users)
        elif roll < 0.55:
            self.patch_user(self.rng.choice(users))
        elif roll < 0.65:
            self.replace_user(self.rng.choice(users))
        elif roll < 0.75:
            self.set_active(self.rng.choice(users))
        elif roll < 0.9 and groups:
            self.change_members(self.rng.choice(groups), users)
        elif roll < 0.94 and groups:
            self.rename_group(self.rng.choice(groups))
        elif roll < 0.985:
            self.delete_user(self.rng.choice(users))
        elif groups:
            self.delete_group(self.rng.choice(groups))

    # -- one write, whatever happens to the server -------------------------------

    def write(
        self,
        client: Scim,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        expected: int,
        verdict: Callable[[], tuple[Verdict, dict[str, Any] | None]],
    ) -> tuple[bool, dict[str, Any] | None]:
        """Send a write until it is acknowledged or found applied; returns (applied, document).

        An unknown outcome (connection lost, or a 5xx) is read back with
        ``verdict`` before the write is sent again, as an IdP's next cycle would.
        """
        what = f"{method} {path} {body}"
        for _ in range(ATTEMPTS):
            answer = client.send(method, path, json=body)
            if answer is not None and answer.status_code == expected:
                return True, answer.json() if answer.content else None
            if answer is not None and answer.status_code < 500:
                self.stats.note("refused", f"{what}: {answer.status_code} {answer.text}")
                return False, None
            found, doc = verdict()
            if found == "new":
                self.stats.add(applied_unacknowledged=1)
                return True, doc
            if found == "partial":
                self.stats.note("partial", f"{what}: found {doc}")
                return False, None
            self.stats.add(not_applied_retried=1)
        self.stats.note("gave_up", what)
        return False, None

    # -- users -----------------------------------------------------------------------

    def create_user(self, directory_id: str) -> None:
        client = self.clients[directory_id]
        user_name = f"{self.fresh('user').replace(' ', '')}@example.com"
        by_name = {"filter": f'userName eq "{user_name}"'}
        assert client.read("/Users", **by_name).json()["totalResults"] == 0
        state: Snapshot = (self.fresh("Person"), self.fresh("title"), self.fresh("dept"), True)

        def verdict() -> tuple[Verdict, dict[str, Any] | None]:
            found = client.read("/Users", **by_name).json()["Resources"]
            if not found:
                return "old", None
            return ("new" if snapshot_of(found[0]) == state else "partial"), found[0]

        applied, doc = self.write(
            client, "POST", "/Users", user_document(user_name, state), 201, verdict
        )
        if applied:
            assert doc is not None
            user = UserModel(doc["id"], directory_id, user_name, state)
            user.events.append(("user.created", state))
            self.users[user.id] = user

    def _user_verdict(
        self, client: Scim, user: UserModel, new: Snapshot
    ) -> Callable[[], tuple[Verdict, dict[str, Any] | None]]:
        def verdict() -> tuple[Verdict, dict[str, Any] | None]:
            doc = client.read(f"/Users/{user.id}").json()
            now = snapshot_of(doc)
            if now == new:
                return "new", doc
            return ("old" if now == user.state else "partial"), doc

        return verdict

    def patch_user(self, user: UserModel) -> None:
        """A mover: several attributes replaced in one PATCH, all of them or none."""
        client = self.clients[user.directory_id]
        new: Snapshot = (
            self.fresh("Person"),
            self.fresh("title"),
            self.fresh("dept"),
            user.state[3],
        )
        body = patch(
            {"op": "replace", "path": "displayName", "value": new[0]},
            {"op": "replace", "path": "title", "value": new[1]},
            {"op": "replace", "path": f"{ENTERPRISE_SCHEMA}:department", "value": new[2]},
        )
        applied, _ = self.write(
            client, "PATCH", f"/Users/{user.id}", body, 200, self._user_verdict(client, user, new)
        )
        if applied:
            user.changed("user.updated", new)

    def replace_user(self, user: UserModel) -> None:
        client = self.clients[user.directory_id]
        new: Snapshot = (
            self.fresh("Person"),
            self.fresh("title"),
            self.fresh("dept"),
            user.state[3],
        )
        applied, _ = self.write(
            client,
            "PUT",
            f"/Users/{user.id}",
            {**user_document(user.user_name, new), "id": user.id},
            200,
            self._user_verdict(client, user, new),
        )
        if applied:
            user.changed("user.updated", new)

    def set_active(self, user: UserModel) -> None:
        """A leaver deprovisioned with ``active: false``, or a returning one reactivated."""
        client = self.clients[user.directory_id]
        new: Snapshot = (*user.state[:3], not user.active)
        body = patch({"op": "replace", "path": "active", "value": new[3]})
        applied, _ = self.write(
            client, "PATCH", f"/Users/{user.id}", body, 200, self._user_verdict(client, user, new)
        )
        if applied:
            user.changed("user.deactivated" if user.active else "user.reactivated", new)

    def delete_user(self, user: UserModel) -> None:
        client = self.clients[user.directory_id]

        def verdict() -> tuple[Verdict, dict[str, Any] | None]:
            answer = client.read(f"/Users/{user.id}")
            if answer.status_code == 404:
                return "new", None
            return ("old" if snapshot_of(answer.json()) == user.state else "partial"), None

        applied, _ = self.write(client, "DELETE", f"/Users/{user.id}", None, 204, verdict)
        if not applied:
            return
        user.deleted = True
        user.events.append(("user.deleted", user.state))
        for group in self.live_groups():
            if user.id in group.members:
                group.members.discard(user.id)
                group.version += 1
                self.memberships[(group.id, user.id)].append("group.user_removed")

    # -- groups ----------------------------------------------------------------------

    def _group_verdict(
        self, client: Scim, group: GroupModel, name: str, members: set[str]
    ) -> Callable[[], tuple[Verdict, dict[str, Any] | None]]:
        def verdict() -> tuple[Verdict, dict[str, Any] | None]:
            doc = client.read(f"/Groups/{group.id}").json()
            now = (doc["displayName"], {each["value"] for each in doc.get("members", [])})
            if now == (name, members):
                return "new", doc
            return ("old" if now == (group.name, group.members) else "partial"), doc

        return verdict

    def _moved(self, group: GroupModel, members: set[str]) -> None:
        for user_id in sorted(members - group.members):
            self.memberships.setdefault((group.id, user_id), []).append("group.user_added")
        for user_id in sorted(group.members - members):
            self.memberships[(group.id, user_id)].append("group.user_removed")
        group.members = members

    def create_group(self, directory_id: str, users: list[UserModel]) -> None:
        client = self.clients[directory_id]
        name = self.fresh("team")
        by_name = {"filter": f'displayName eq "{name}"'}
        assert client.read("/Groups", **by_name).json()["totalResults"] == 0
        chosen = {user.id for user in self.rng.sample(users, min(len(users), 2))}
        body = {
            "schemas": [GROUP_SCHEMA],
            "displayName": name,
            "members": [{"value": user_id} for user_id in sorted(chosen)],
        }

        def verdict() -> tuple[Verdict, dict[str, Any] | None]:
            found = client.read("/Groups", **by_name).json()["Resources"]
            if not found:
                return "old", None
            doc = client.read(f"/Groups/{found[0]['id']}").json()
            members = {each["value"] for each in doc.get("members", [])}
            return ("new" if members == chosen else "partial"), doc

        applied, doc = self.write(client, "POST", "/Groups", body, 201, verdict)
        if applied:
            assert doc is not None
            group = GroupModel(doc["id"], directory_id, name, set())
            group.events.append(("group.created", name))
            self._moved(group, chosen)
            self.groups[group.id] = group

    def change_members(self, group: GroupModel, users: list[UserModel]) -> None:
        """Several members added and removed in one PATCH (Okta's shape): all or none."""
        client = self.clients[group.directory_id]
        outside = sorted(user.id for user in users if user.id not in group.members)
        joining = set(self.rng.sample(outside, min(len(outside), self.rng.randint(1, 3))))
        inside = sorted(group.members)
        leaving = set(self.rng.sample(inside, min(len(inside), self.rng.randint(0, 2))))
        if not joining and not leaving:
            return
        operations: list[dict[str, Any]] = []
        if joining:
            operations.append(
                {
                    "op": "add",
                    "path": "members",
                    "value": [{"value": user_id} for user_id in sorted(joining)],
                }
            )
        operations += [
            {"op": "remove", "path": f'members[value eq "{user_id}"]'}
            for user_id in sorted(leaving)
        ]
        members = (group.members | joining) - leaving
        applied, _ = self.write(
            client,
            "PATCH",
            f"/Groups/{group.id}",
            patch(*operations),
            204,
            self._group_verdict(client, group, group.name, members),
        )
        if applied:
            self._moved(group, members)
            group.version += 1

    def rename_group(self, group: GroupModel) -> None:
        client = self.clients[group.directory_id]
        name = self.fresh("team")
        body = patch({"op": "replace", "path": "displayName", "value": name})
        applied, _ = self.write(
            client,
            "PATCH",
            f"/Groups/{group.id}",
            body,
            204,
            self._group_verdict(client, group, name, group.members),
        )
        if applied:
            group.name = name
            group.version += 1
            group.events.append(("group.updated", name))

    def delete_group(self, group: GroupModel) -> None:
        """One ``group.deleted``; its members leave it without events of their own."""
        client = self.clients[group.directory_id]

        def verdict() -> tuple[Verdict, dict[str, Any] | None]:
            answer = client.read(f"/Groups/{group.id}")
            return ("new" if answer.status_code == 404 else "old"), None

        applied, _ = self.write(client, "DELETE", f"/Groups/{group.id}", None, 204, verdict)
        if applied:
            group.deleted = True
            group.events.append(("group.deleted", group.name))


@dataclass
class Kill:
    target: str
    """``server``, ``worker`` or ``both``."""

    requests_in_flight: int


IN_FLIGHT_WAIT_SECONDS = 10.0
"""How long a server kill waits for a request in flight before it goes ahead without one."""


class Chaos:
    """Kills the server and/or the worker at seeded random moments, restarting each at once.

    A kill of the server waits, after its random gap, until a request is in flight.
    """

    def __init__(
        self,
        server: ServerProcess,
        worker: WorkerProcess,
        rng: Random,
        plan: list[str],
        stats: Stats,
        gap: tuple[float, float] = (0.25, 0.75),
    ) -> None:
        self.server = server
        self.worker = worker
        self.rng = rng
        self.plan = plan
        self.stats = stats
        self.gap = gap
        self.kills: list[Kill] = []
        self.failure: BaseException | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        try:
            for target in self.plan:
                time.sleep(self.rng.uniform(*self.gap))
                if target in ("server", "both"):
                    self._wait_for_a_request_in_flight()
                in_flight = self.stats.in_flight
                if target in ("server", "both"):
                    self.server.kill()
                if target in ("worker", "both"):
                    self.worker.kill()
                self.kills.append(Kill(target, in_flight))
                if target in ("worker", "both"):
                    self.worker.start()
                if target in ("server", "both"):
                    self.server.start()
        except BaseException as exc:  # reported by the test's thread
            self.failure = exc
        finally:
            self.done.set()

    def _wait_for_a_request_in_flight(self) -> None:
        deadline = time.monotonic() + IN_FLIGHT_WAIT_SECONDS
        while self.stats.in_flight == 0 and time.monotonic() < deadline:
            time.sleep(0.001)

    def counts(self) -> Counter[str]:
        found: Counter[str] = Counter()
        for kill in self.kills:
            for process in ("server", "worker"):
                found[process] += kill.target in (process, "both")
        return found
