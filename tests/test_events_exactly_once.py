"""Every change publishes exactly its events, in the transaction that makes it, and nothing else.

A long scenario of SCIM requests runs against one directory. Around each
request the directory's tables are read; what changed between the two reads
says which events the request must publish, and the events API must show
exactly those, each once, with the resource as it now stands.
"""

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from conftest import DirectoryClient, LiveServer, new_directory
from event_support import admin_client, last_seq, published, read_all
from scim_payloads import BULK_SCHEMA, ENTERPRISE_SCHEMA, USER_SCHEMA, group, patch, user
from scimgate.scim.normalized import UserState
from scimgate.service.administration import roles
from scimgate.service.event_stream import changes, safety
from scimgate.store.ids import new_id, utcnow
from scimgate.store.resource_tables import USERS
from scimgate.store.stored_resources import StoredResource
from scimgate.store.tables.configuration import user_roles
from scimgate.store.tables.event_stream import events as event_rows
from scimgate.store.tables.offboarding import deprovisionings
from scimgate.store.tables.resources import group_members, groups, users
from scimgate.store.tables.tenancy import directories
from scimgate.store.transactions import reading

MEMBERSHIP_TYPES = {
    "group.user_added",
    "group.user_removed",
    "group.group_added",
    "group.group_removed",
}


@dataclass(frozen=True)
class State:
    """A directory's resources as its tables hold them."""

    activated: bool
    assignment_group: str | None
    users: dict[str, dict[str, Any]]
    groups: dict[str, dict[str, Any]]
    members: frozenset[tuple[str, str, str]]
    """(group id, member id, member type) rows."""

    roles: dict[str, list[str]]

    def active(self, user_id: str) -> bool:
        """Whether the app should let the user in: ``active``, and assigned if that applies."""
        assigned = self.assignment_group is None or (
            (self.assignment_group, user_id, "User") in self.members
        )
        return assigned and self.users[user_id].get("active") is not False


def _state(engine: Engine, directory_id: str) -> State:
    with reading(engine) as conn:
        activated, assignment_group = conn.execute(
            select(directories.c.activated_at, directories.c.assignment_group).where(
                directories.c.id == directory_id
            )
        ).one()
        user_rows = conn.execute(
            select(users.c.id, users.c.doc).where(users.c.directory_id == directory_id)
        )
        group_rows = conn.execute(
            select(groups.c.id, groups.c.doc).where(groups.c.directory_id == directory_id)
        )
        member_rows = conn.execute(
            select(
                group_members.c.group_id, group_members.c.member_id, group_members.c.member_type
            ).where(group_members.c.directory_id == directory_id)
        )
        role_rows = conn.execute(
            select(user_roles.c.user_id, user_roles.c.roles).where(
                user_roles.c.directory_id == directory_id
            )
        )
        return State(
            activated is not None,
            assignment_group,
            {row.id: row.doc for row in user_rows},
            {row.id: row.doc for row in group_rows},
            frozenset((row[0], row[1], row[2]) for row in member_rows),
            {row.user_id: row.roles for row in role_rows},
        )


def _expected(before: State, after: State, directory_id: str) -> Counter[tuple[str, str]]:
    """The events a change from ``before`` to ``after`` announces: (type, resource id)."""
    expected: Counter[tuple[str, str]] = Counter()
    if after.activated and not before.activated:
        expected["directory.activated", directory_id] += 1
    for user_id in after.users.keys() - before.users.keys():
        expected["user.created", user_id] += 1
    for user_id in before.users.keys() - after.users.keys():
        expected["user.deleted", user_id] += 1
    for user_id in before.users.keys() & after.users.keys():
        was, now = before.active(user_id), after.active(user_id)
        if was != now:
            expected["user.deactivated" if was else "user.reactivated", user_id] += 1
        elif before.users[user_id] != after.users[user_id]:
            expected["user.updated", user_id] += 1
        if before.roles.get(user_id, []) != after.roles.get(user_id, []):
            expected["user.roles_changed", user_id] += 1
    for group_id in after.groups.keys() - before.groups.keys():
        expected["group.created", group_id] += 1
    for group_id in before.groups.keys() - after.groups.keys():
        expected["group.deleted", group_id] += 1
    for group_id in before.groups.keys() & after.groups.keys():
        if before.groups[group_id] != after.groups[group_id]:
            expected["group.updated", group_id] += 1
    for _, member_id, member_type in after.members - before.members:
        expected[f"group.{member_type.lower()}_added", member_id] += 1
    for group_id, member_id, member_type in before.members - after.members:
        # A deleted group's own member rows go with it: its group.deleted says so.
        if group_id in after.groups:
            expected[f"group.{member_type.lower()}_removed", member_id] += 1
    return expected


def _subject(event: dict[str, Any]) -> str:
    """The id of the resource an event is filed under, read from its payload."""
    data = event["data"]
    if event["type"].startswith("directory."):
        return str(data["directory"]["id"])
    if "user" in data and data["user"] is not None:
        return str(data["user"]["id"])
    if data.get("member_group") is not None:
        return str(data["member_group"]["id"])
    return str(data["group"]["id"])


@dataclass
class Scenario:
    """Sends requests one at a time and checks the events each one published."""

    scim: DirectoryClient
    admin: httpx.Client
    server: LiveServer
    organization_id: str = ""
    cursor: int = 0
    seen_ids: set[str] = field(default_factory=set)
    published_types: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        # Scenarios deprovision a good share of their few users; the safety valve has its tests.
        valve = self.admin.patch(
            f"/directories/{self.scim.directory_id}/safety", json={"max_count": 0, "max_percent": 0}
        )
        assert valve.status_code == 200, valve.text
        with reading(self.server.engine) as conn:
            self.organization_id = conn.execute(
                select(directories.c.organization_id).where(
                    directories.c.id == self.scim.directory_id
                )
            ).scalar_one()
        self.cursor = last_seq(self.server.engine)

    def step(
        self,
        send: Callable[[httpx.Client], httpx.Response],
        status: int,
        *,
        previous: dict[str, dict[str, Any]] | None = None,
    ) -> httpx.Response:
        """Send one request; assert its status and that it published exactly its events.

        ``previous`` names, per resource id, the ``previous_attributes`` its
        ``user.updated`` or ``group.updated`` event must carry.
        """
        responses: list[httpx.Response] = []

        def request() -> None:
            responses.append(send(self.scim.http))
            assert responses[0].status_code == status, responses[0].text

        self.change(request, refused=status >= 400, previous=previous)
        return responses[0]

    def change(
        self,
        make: Callable[[], object],
        *,
        refused: bool = False,
        previous: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        """Make a change (a request, or a use case called directly) and check its events."""
        engine, directory_id = self.server.engine, self.scim.directory_id
        before, view_before = _state(engine, directory_id), self._view()
        make()
        after, view_after = _state(engine, directory_id), self._view()
        if refused:
            assert after == before, "a refused request changed the directory"

        found = read_all(self.admin, self.cursor, directory_id=directory_id)
        rows = published(engine, directory_id, self.cursor)
        assert [(row.id, row.seq, row.type) for row in rows] == [
            (event["id"], event["sequence"], event["type"]) for event in found
        ]
        assert [row.resource_id for row in rows] == [_subject(event) for event in found]
        assert Counter((event["type"], _subject(event)) for event in found) == _expected(
            before, after, directory_id
        )
        for event in found:
            self._check_envelope(event)
            self._check_payload(event, found, view_before, view_after, after, previous or {})
        if found:
            self.cursor = found[-1]["sequence"]
        self.published_types.update(event["type"] for event in found)

    def _view(self) -> dict[str, dict[str, Any]]:
        """The directory's users and groups as the management API shows them, by id."""
        listed: dict[str, dict[str, Any]] = {}
        base = f"/directories/{self.scim.directory_id}"
        for kind in ("users", "groups"):
            response = self.admin.get(f"{base}/{kind}", params={"count": 1000})
            assert response.status_code == 200, response.text
            for item in response.json()[kind]:
                listed[item["id"]] = _relative(item, self.server.url)
        return listed

    def _check_envelope(self, event: dict[str, Any]) -> None:
        assert event["id"] not in self.seen_ids
        self.seen_ids.add(event["id"])
        assert event["sequence"] > self.cursor
        self.cursor = event["sequence"]
        assert event["schema_version"] == 1
        assert event["directory_id"] == self.scim.directory_id
        assert event["organization_id"] == self.organization_id
        assert event["occurred_at"].endswith("Z")

    def _check_payload(
        self,
        event: dict[str, Any],
        request_events: list[dict[str, Any]],
        before: dict[str, dict[str, Any]],
        after: dict[str, dict[str, Any]],
        state: State,
        previous: dict[str, dict[str, Any]],
    ) -> None:
        kind, data = event["type"], event["data"]
        if kind == "user.deleted":
            user_id = data["user"]["id"]
            assert data["reason"] == "deleted"
            assert data["user"] == {**before[user_id], "state": "deleted"}
            return
        if kind == "group.deleted":
            assert data["group"] == before[data["group"]["id"]]
            return
        if kind.startswith("directory."):
            assert data["directory"]["id"] == self.scim.directory_id
            return
        # The resources an event names, as they stand once the request is done (unless a
        # later operation of the same request changed them again).
        later = request_events[request_events.index(event) + 1 :]
        for key in ("user", "group", "member_group"):
            shown = data.get(key)
            if shown is not None and shown["id"] in after and shown["id"] not in _named(later):
                assert shown == after[shown["id"]], (
                    f"{kind}: data.{key} is not the current state: "
                    f"{_differences(shown, after[shown['id']])}"
                )
        if kind == "user.deactivated":
            stored_active = state.users[data["user"]["id"]].get("active") is not False
            assert data["reason"] == ("unassigned" if stored_active else "deactivated")
            assert data["user"]["state"] == "inactive"
        if kind == "user.reactivated":
            assert data["user"]["state"] == "active"
        if kind in ("user.updated", "group.updated"):
            subject = _subject(event)
            assert data["previous_attributes"], f"{kind} without previous_attributes"
            if subject in previous:
                assert data["previous_attributes"] == previous[subject]
        if kind in MEMBERSHIP_TYPES:
            assert data["group"]["id"] in before or any(
                other["type"] == "group.created" and _subject(other) == data["group"]["id"]
                for other in request_events
            )


def _named(found: list[dict[str, Any]]) -> set[str]:
    """The ids of every user and group these events carry."""
    return {
        str(event["data"][key]["id"])
        for event in found
        for key in ("user", "group", "member_group")
        if event["data"].get(key) is not None
    }


def _differences(shown: Any, current: Any, path: str = "") -> list[str]:
    """Where two JSON values differ, as paths with both values."""
    if isinstance(shown, dict) and isinstance(current, dict):
        return [
            difference
            for key in sorted(shown.keys() | current.keys())
            for difference in _differences(shown.get(key), current.get(key), f"{path}.{key}")
        ]
    return [] if shown == current else [f"{path}: {shown!r} != {current!r}"]


def _relative(value: Any, server_url: str) -> Any:
    """Events name SCIM locations relative to the service root; the management API in full."""
    if isinstance(value, str):
        return value.removeprefix(server_url)
    if isinstance(value, dict):
        return {key: _relative(item, server_url) for key, item in value.items()}
    if isinstance(value, list):
        return [_relative(item, server_url) for item in value]
    return value


def _person(user_name: str, given: str, family: str, **attributes: Any) -> dict[str, Any]:
    body = user(
        user_name,
        schemas=[USER_SCHEMA, ENTERPRISE_SCHEMA],
        externalId=f"ext-{given.lower()}",
        name={"givenName": given, "familyName": family},
        emails=[{"value": user_name, "type": "work", "primary": True}],
        title="Engineer",
        **{ENTERPRISE_SCHEMA: {"department": "R&D"}},
    )
    return {**body, **attributes}


def _bulk(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [BULK_SCHEMA], "Operations": list(operations)}


def test_a_long_scenario_publishes_each_change_exactly_once(
    scim: DirectoryClient, admin: httpx.Client, live_server: LiveServer
) -> None:
    run = Scenario(scim, admin, live_server)
    ids: dict[str, str] = {}

    def create(name: str, response: httpx.Response) -> str:
        ids[name] = response.json()["id"]
        return ids[name]

    ann_body = _person("ann@example.com", "Ann", "Lee")
    ann = create("ann", run.step(lambda h: h.post("/Users", json=ann_body), 201))
    assert run.published_types["directory.activated"] == 1
    for name, given in (("bob", "Bob"), ("cat", "Cat"), ("dan", "Dan"), ("eve", "Eve")):
        body = _person(f"{name}@example.com", given, "Doe")
        create(name, run.step(lambda h, body=body: h.post("/Users", json=body), 201))
    bob, cat, dan, eve = ids["bob"], ids["cat"], ids["dan"], ids["eve"]

    # Refused requests change nothing and publish nothing.
    run.step(lambda h: h.post("/Users", json=user("ANN@example.com")), 409)
    run.step(
        lambda h: h.patch(
            f"/Users/{ann}",
            json=patch(
                {"op": "replace", "path": "title", "value": "Boss"},
                {"op": "replace", "path": "userName", "value": 42},
            ),
        ),
        400,
    )
    run.step(
        lambda h: h.patch(
            f"/Users/{ann}",
            headers={"If-Match": 'W/"999"'},
            json=patch({"op": "replace", "path": "title", "value": "Boss"}),
        ),
        412,
    )
    run.step(
        lambda h: h.patch(f"/Users/{new_id()}", json=patch({"op": "remove", "path": "title"})), 404
    )
    run.step(lambda h: h.delete(f"/Groups/{new_id()}"), 404)

    # The IdP sends again what is stored: nothing to announce.
    run.step(lambda h: h.put(f"/Users/{ann}", json=ann_body), 200)
    run.step(
        lambda h: h.patch(
            f"/Users/{ann}",
            json=patch(
                {"op": "Replace", "path": "title", "value": "Engineer"},
                {"op": "Replace", "path": "active", "value": "True"},
                {
                    "op": "replace",
                    "path": 'emails[type eq "work"].value',
                    "value": "ann@example.com",
                },
            ),
        ),
        200,
    )

    # Attribute changes: one user.updated each, with the values before.
    run.step(
        lambda h: h.patch(
            f"/Users/{ann}", json=patch({"op": "replace", "path": "title", "value": "Lead"})
        ),
        200,
        previous={ann: {"title": "Engineer"}},
    )
    run.step(
        lambda h: h.patch(
            f"/Users/{ann}",
            json=patch(
                {"op": "Replace", "path": f"{ENTERPRISE_SCHEMA}:department", "value": "Sales"},
                {"op": "Replace", "path": "name.familyName", "value": "Lee-Smith"},
            ),
        ),
        200,
        previous={
            ann: {
                ENTERPRISE_SCHEMA: {"department": "R&D"},
                "name": {"givenName": "Ann", "familyName": "Lee"},
            }
        },
    )

    # Deactivation and reactivation, also as Entra's strings.
    off = patch({"op": "Replace", "path": "active", "value": "False"})
    run.step(lambda h: h.patch(f"/Users/{bob}", json=off), 200)
    run.step(lambda h: h.patch(f"/Users/{bob}", json=off), 200)
    run.step(
        lambda h: h.patch(
            f"/Users/{bob}", json=patch({"op": "replace", "path": "active", "value": True})
        ),
        200,
    )
    cat_off = _person("cat@example.com", "Cat", "Doe", active=False, title="Former")
    run.step(lambda h: h.put(f"/Users/{cat}", json=cat_off), 200)
    run.step(lambda h: h.put(f"/Users/{cat}", json=cat_off), 200)
    run.step(
        lambda h: h.patch(
            f"/Users/{cat}", json=patch({"op": "replace", "value": {"active": True}})
        ),
        200,
    )

    # Groups and membership, in the forms Entra ID and Okta send.
    engineering = create(
        "engineering",
        run.step(lambda h: h.post("/Groups", json=group("Engineering", [ann, bob])), 201),
    )
    run.step(
        lambda h: h.patch(
            f"/Groups/{engineering}",
            json=patch({"op": "Add", "path": "members", "value": [{"value": cat}, {"value": dan}]}),
        ),
        204,
    )
    run.step(
        lambda h: h.patch(
            f"/Groups/{engineering}",
            json=patch({"op": "Add", "path": "members", "value": [{"value": ann}]}),
        ),
        204,
    )
    run.step(
        lambda h: h.patch(
            f"/Groups/{engineering}",
            json=patch({"op": "remove", "path": f'members[value eq "{dan}"]'}),
        ),
        204,
    )
    run.step(
        lambda h: h.patch(
            f"/Groups/{engineering}",
            json=patch(
                {"op": "Remove", "path": "members", "value": [{"value": cat}, {"value": bob}]}
            ),
        ),
        204,
    )
    run.step(
        lambda h: h.patch(
            f"/Groups/{engineering}",
            json=patch({"op": "Remove", "path": "members", "value": [{"value": cat}]}),
        ),
        204,
    )
    run.step(
        lambda h: h.patch(
            f"/Groups/{engineering}",
            json=patch(
                {"op": "add", "path": "members", "value": [{"value": eve}]},
                {"op": "add", "path": "members", "value": [{"value": new_id()}]},
            ),
        ),
        400,
    )
    everyone = create(
        "everyone", run.step(lambda h: h.post("/Groups", json=group("Everyone")), 201)
    )
    run.step(
        lambda h: h.patch(
            f"/Groups/{everyone}",
            json=patch(
                {"op": "add", "path": "members", "value": [{"value": engineering}, {"value": eve}]}
            ),
        ),
        204,
    )
    # Okta renames with a path-less replace, and sends the whole group with PUT.
    run.step(
        lambda h: h.patch(
            f"/Groups/{engineering}",
            json=patch({"op": "replace", "value": {"id": engineering, "displayName": "R&D"}}),
        ),
        204,
        previous={engineering: {"displayName": "Engineering"}},
    )
    run.step(
        lambda h: h.put(f"/Groups/{everyone}", json=group("Everyone", [engineering, eve])), 200
    )
    run.step(lambda h: h.put(f"/Groups/{everyone}", json=group("Everyone", [eve, bob, cat])), 200)
    run.step(
        lambda h: h.patch(
            f"/Groups/{engineering}",
            json=patch(
                {"op": "replace", "path": "displayName", "value": "Research"},
                {"op": "add", "path": "members", "value": [{"value": bob}, {"value": dan}]},
            ),
        ),
        204,
        previous={engineering: {"displayName": "R&D"}},
    )
    run.step(
        lambda h: h.patch(
            f"/Groups/{everyone}",
            headers={"If-Match": 'W/"1"'},
            json=patch({"op": "add", "path": "members", "value": [{"value": dan}]}),
        ),
        412,
    )

    # A Bulk request: each operation publishes its own events; a failed one none.
    run.step(
        lambda h: h.post(
            "/Bulk",
            json=_bulk(
                {
                    "method": "POST",
                    "path": "/Users",
                    "bulkId": "fay",
                    "data": user("fay@example.com"),
                },
                {
                    "method": "POST",
                    "path": "/Groups",
                    "bulkId": "ops",
                    "data": {**group("Ops"), "members": [{"value": "bulkId:fay"}, {"value": ann}]},
                },
                {
                    "method": "PATCH",
                    "path": f"/Users/{eve}",
                    "data": patch({"op": "replace", "path": "title", "value": "Manager"}),
                },
                {
                    "method": "POST",
                    "path": "/Users",
                    "bulkId": "dup",
                    "data": user("BOB@example.com"),
                },
                {
                    "method": "PATCH",
                    "path": f"/Users/{dan}",
                    "data": patch({"op": "replace", "path": "active", "value": False}),
                },
                {"method": "PUT", "path": f"/Users/{cat}", "data": cat_off},
            ),
        ),
        200,
        previous={eve: {"title": "Engineer"}},
    )

    # Deletions: a user leaves its groups; a group leaves the groups it was in.
    run.step(lambda h: h.delete(f"/Users/{ann}"), 204)
    run.step(lambda h: h.delete(f"/Users/{ann}"), 404)
    run.step(
        lambda h: h.patch(
            f"/Groups/{everyone}",
            json=patch({"op": "add", "path": "members", "value": [{"value": engineering}]}),
        ),
        204,
    )
    run.step(lambda h: h.delete(f"/Groups/{engineering}"), 204)
    run.step(lambda h: h.delete(f"/Users/{dan}"), 204)

    assert run.published_types == {
        "directory.activated": 1,
        "user.created": 6,
        "user.updated": 4,
        "user.deactivated": 4,
        "user.reactivated": 2,
        "user.deleted": 2,
        "group.created": 3,
        "group.updated": 2,
        "group.deleted": 1,
        "group.user_added": 11,
        "group.user_removed": 5,
        "group.group_added": 2,
        "group.group_removed": 2,
    }


def test_the_assignment_group_gives_and_takes_access_exactly_once(
    scim: DirectoryClient, admin: httpx.Client, live_server: LiveServer
) -> None:
    engine, directory_id = live_server.engine, scim.directory_id
    run = Scenario(scim, admin, live_server)
    ann, bob, cat, dan = (
        run.step(lambda h, name=name: h.post("/Users", json=user(name, active=True)), 201).json()[
            "id"
        ]
        for name in ("ann", "bob", "cat", "dan")
    )
    app_users = run.step(lambda h: h.post("/Groups", json=group("App users", [ann, bob])), 201)
    app_users_id = app_users.json()["id"]
    run.change(lambda: roles.add_rule(engine, directory_id, "default", "", "guest", 100))
    run.change(lambda: roles.add_rule(engine, directory_id, "group_name", "App users", "user", 1))
    # Users outside the group lose access at once.
    run.change(lambda: safety.set_assignment_group(engine, directory_id, "app USERS"))
    assert run.published_types["user.deactivated"] == 2

    def members(op: str, *user_ids: str) -> Callable[[httpx.Client], httpx.Response]:
        value = [{"value": user_id} for user_id in user_ids]
        body = patch({"op": op, "path": "members", "value": value})
        return lambda h: h.patch(f"/Groups/{app_users_id}", json=body)

    run.step(members("Remove", bob), 204)
    run.step(members("Add", bob, cat), 204)
    run.step(
        lambda h: h.patch(
            f"/Users/{dan}", json=patch({"op": "replace", "path": "active", "value": "False"})
        ),
        200,
    )
    run.step(members("Add", dan), 204)
    run.step(
        lambda h: h.patch(
            f"/Users/{dan}", json=patch({"op": "replace", "path": "active", "value": "True"})
        ),
        200,
    )
    run.step(
        lambda h: h.patch(
            f"/Groups/{app_users_id}",
            json=patch({"op": "replace", "path": "displayName", "value": "Everyone"}),
        ),
        204,
        previous={app_users_id: {"displayName": "App users"}},
    )
    run.step(lambda h: h.put(f"/Groups/{app_users_id}", json=group("Everyone", [ann, dan])), 200)
    run.step(lambda h: h.delete(f"/Groups/{app_users_id}"), 204)
    # Without an assignment group, every active user has access again.
    run.change(lambda: safety.set_assignment_group(engine, directory_id, None))
    assert run.published_types == {
        "directory.activated": 1,
        "user.created": 4,
        "group.created": 1,
        "group.updated": 1,
        "group.deleted": 1,
        "group.user_added": 2 + 3,
        "group.user_removed": 1 + 2,
        "user.updated": 1,
        "user.deactivated": 2 + 1 + 2 + 2,
        "user.reactivated": 2 + 1 + 4,
        "user.roles_changed": 4 + 2 + 1 + 2 + 1 + 4,
    }


def test_a_member_taken_out_and_put_back_in_one_patch_keeps_access(
    scim: DirectoryClient, live_server: LiveServer
) -> None:
    ann = scim.http.post("/Users", json=user("ann")).json()["id"]
    team = scim.http.post("/Groups", json=group("Team", [ann])).json()["id"]
    safety.set_assignment_group(live_server.engine, scim.directory_id, "Team")
    cursor = last_seq(live_server.engine)
    response = scim.http.patch(
        f"/Groups/{team}",
        json=patch(
            {"op": "remove", "path": f'members[value eq "{ann}"]'},
            {"op": "add", "path": "members", "value": [{"value": ann}]},
        ),
    )
    assert response.status_code == 204
    found = published(live_server.engine, scim.directory_id, cursor)
    assert [(event.type, event.resource_id) for event in found] == [
        ("group.user_removed", ann),
        ("group.user_added", ann),
    ]
    assert found[-1].data["user"]["state"] == "active"


def test_a_change_that_fails_publishes_and_stores_nothing(
    engine: Engine, scim: DirectoryClient
) -> None:
    def counts() -> tuple[int, int, int]:
        with reading(engine) as conn:
            return (
                conn.execute(
                    select(func.count())
                    .select_from(event_rows)
                    .where(event_rows.c.directory_id == scim.directory_id)
                ).scalar_one(),
                conn.execute(
                    select(func.count())
                    .select_from(users)
                    .where(users.c.directory_id == scim.directory_id)
                ).scalar_one(),
                conn.execute(
                    select(func.count())
                    .select_from(deprovisionings)
                    .where(deprovisionings.c.directory_id == scim.directory_id)
                ).scalar_one(),
            )

    before = counts()
    stored = StoredResource.new(new_id(), {"userName": "ghost", "active": True}, utcnow())
    with (
        pytest.raises(RuntimeError, match="boom"),
        changes.changing(engine, scim.directory_id) as work,
    ):
        USERS.insert(work.conn, scim.directory_id, stored)
        work.user_created(stored)
        USERS.replace(
            work.conn,
            scim.directory_id,
            stored.doc,
            stored.evolved({"userName": "ghost", "active": False}, utcnow()),
        )
        work.user_changed(stored.id, before=UserState.active, previous_attributes={"active": True})
        raise RuntimeError("boom")
    assert counts() == before

    # The same changes, when the use case ends well, are stored with their events.
    with changes.changing(engine, scim.directory_id) as work:
        USERS.insert(work.conn, scim.directory_id, stored)
        work.user_created(stored)
    assert counts() == (before[0] + 1, before[1] + 1, before[2])
    assert [event.type for event in published(engine, scim.directory_id)][-1] == "user.created"


def test_a_reader_following_the_cursor_sees_every_event_once_in_commit_order(
    live_server: LiveServer, admin: httpx.Client
) -> None:
    """Writers in several directories race a reader paging by cursor: nothing is skipped.

    A sequence number handed out before an earlier one commits would let the
    reader move its cursor past an event it never saw.
    """
    directories_ = [new_directory(live_server, f"concurrent {n}") for n in range(3)]
    for directory in directories_:
        response = admin.patch(
            f"/directories/{directory.directory_id}/safety", json={"max_count": 0, "max_percent": 0}
        )
        assert response.status_code == 200, response.text
    start = last_seq(live_server.engine)
    writing_done = threading.Event()
    seen: list[dict[str, Any]] = []

    def follow() -> None:
        cursor = start
        with admin_client(live_server) as http:
            while True:
                finishing = writing_done.is_set()
                response = http.get("/events", params={"after": cursor, "limit": 7})
                assert response.status_code == 200, response.text
                page = response.json()
                seen.extend(page["data"])
                cursor = page["next_cursor"]
                if finishing and not page["data"]:
                    return

    def churn(directory: DirectoryClient, worker: int) -> None:
        http = httpx.Client(base_url=directory.base_url, headers=directory.http.headers, timeout=60)
        with http:
            team = http.post("/Groups", json=group(f"team {worker}")).json()["id"]
            previous = None
            for round_ in range(8):
                created = http.post("/Users", json=user(f"w{worker}-{round_}@example.com"))
                assert created.status_code == 201, created.text
                user_id = created.json()["id"]
                changed = http.patch(
                    f"/Users/{user_id}",
                    json=patch({"op": "replace", "path": "title", "value": f"round {round_}"}),
                )
                assert changed.status_code == 200, changed.text
                members = [{"value": user_id}] + ([{"value": previous}] if previous else [])
                added = http.patch(
                    f"/Groups/{team}",
                    json=patch({"op": "add", "path": "members", "value": members}),
                )
                assert added.status_code == 204, added.text
                if round_ % 3 == 2:
                    assert http.delete(f"/Users/{user_id}").status_code == 204
                else:
                    previous = user_id

    with ThreadPoolExecutor(max_workers=7) as pool:
        reader = pool.submit(follow)
        writers = [
            pool.submit(churn, directory, worker)
            for worker, directory in enumerate(directories_ * 2)
        ]
        try:
            for writer in writers:
                writer.result()
        finally:
            writing_done.set()
        reader.result(timeout=120)

    ours = {directory.directory_id for directory in directories_}
    stored = [
        event for event in published(live_server.engine, after=start) if event.directory_id in ours
    ]
    read = [event for event in seen if event["directory_id"] in ours]
    assert len(stored) > 6 * 8 * 3
    assert [event["id"] for event in read] == [event.id for event in stored]
    assert len({event["id"] for event in read}) == len(read)
    for directory_id in ours:
        sequences = [event["sequence"] for event in read if event["directory_id"] == directory_id]
        assert sequences == sorted(set(sequences))
        # Two first requests raced; one of them activated the directory.
        activations = [
            event
            for event in read
            if event["directory_id"] == directory_id and event["type"] == "directory.activated"
        ]
        assert len(activations) == 1
    for directory in directories_:
        directory.http.close()
