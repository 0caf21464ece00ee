"""Large member changes: exactly the rows and events asked for, at a cost that grows with
batches of members rather than with members, and a request naming more members than one
transaction changes refused with a 413 that says how to split it.

Timings belong to ``bench/member_changes.py``; what keeps them linear with a small
constant is counted here: the SQL statements a change runs, on a real engine.
"""

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from scim2_models import Group, GroupMember, PatchOp, SCIMException
from sqlalchemy import Engine, event

from conftest import LiveServer, new_directory, serving
from event_support import last_seq, published
from factories import new_scope
from scim_payloads import BULK_SCHEMA, PATCH_SCHEMA, group, patch
from scimgate.scim.limits import Limits
from scimgate.scim.requests import read_patch
from scimgate.scim.resources import GROUP_SCHEMA, UserResource
from scimgate.service.provisioning import groups
from scimgate.service.provisioning.representation import document
from scimgate.service.provisioning.scope import Scope
from scimgate.store import membership_lists, memberships, roles
from scimgate.store import tenants as stored_tenants
from scimgate.store.ids import new_id, utcnow
from scimgate.store.resource_tables import GROUPS, USERS
from scimgate.store.stored_resources import StoredResource
from scimgate.store.transactions import reading, writing


@dataclass(frozen=True)
class Population:
    scope: Scope
    user_ids: list[str]


def _populate(engine: Engine, size: int) -> Population:
    """A directory of ``size`` users, written through the store in one transaction."""
    scope = new_scope(engine, "members")
    directory = scope.directory
    template = document(UserResource(user_name="template", display_name="template", active=True))
    user_ids: list[str] = []
    with writing(engine) as conn:
        for n in range(size):
            doc = {**template, "userName": f"user{n}@members.example", "displayName": f"User {n}"}
            stored = StoredResource.new(new_id(), doc, utcnow())
            USERS.insert(conn, directory.id, stored)
            user_ids.append(stored.id)
    return Population(scope, user_ids)


def _new_group(scope: Scope, member_ids: list[str] | None = None) -> str:
    """An empty group (or one holding ``member_ids``), written through the store."""
    doc = {"schemas": [GROUP_SCHEMA], "displayName": f"group {secrets.token_hex(4)}"}
    stored = StoredResource.new(new_id(), doc, utcnow())
    with writing(scope.engine) as conn:
        GROUPS.insert(conn, scope.directory_id, stored)
        memberships.add(
            conn,
            scope.directory_id,
            stored.id,
            [memberships.NewMember(member_id, "User") for member_id in member_ids or []],
        )
    return stored.id


def _members(ids: list[str]) -> list[dict[str, str]]:
    return [{"value": member_id} for member_id in ids]


def _patch(*operations: dict[str, Any]) -> PatchOp[Group]:
    """A PATCH body read as the SCIM endpoint reads it."""
    return read_patch(Group, patch(*operations), "http://x.example/Users")


def _group(display_name: str, ids: list[str]) -> Group:
    return Group(display_name=display_name, members=[GroupMember(value=each) for each in ids])


# Each change of ``ids``: how the group starts (its members), and the use case run on it.
Change = Callable[[Scope, str, list[str]], object]
CHANGES: dict[str, tuple[bool, Change]] = {
    "PATCH add": (
        False,
        lambda scope, group_id, ids: groups.patch_group(
            scope,
            group_id,
            _patch({"op": "add", "path": "members", "value": _members(ids)}),
            None,
            respond=False,
        ),
    ),
    "PATCH remove (Entra's value list)": (
        True,
        lambda scope, group_id, ids: groups.patch_group(
            scope,
            group_id,
            _patch({"op": "remove", "path": "members", "value": _members(ids)}),
            None,
            respond=False,
        ),
    ),
    "PATCH remove all": (
        True,
        lambda scope, group_id, ids: groups.patch_group(
            scope, group_id, _patch({"op": "remove", "path": "members"}), None, respond=False
        ),
    ),
    "PATCH replace (Okta's full push)": (
        False,
        lambda scope, group_id, ids: groups.patch_group(
            scope,
            group_id,
            _patch({"op": "replace", "path": "members", "value": _members(ids)}),
            None,
            respond=False,
        ),
    ),
    "PUT": (
        False,
        lambda scope, group_id, ids: groups.replace_group(
            scope, group_id, _group("replaced", ids), None
        ),
    ),
    "POST": (
        False,
        lambda scope, group_id, ids: groups.create_group(
            scope, _group(f"created {secrets.token_hex(4)}", ids)
        ),
    ),
}

SMALL, LARGE = 100, 2_100
"""One batch of members, and three: the statements of the second must not grow by 2,000."""


@pytest.fixture(scope="module")
def population(engine: Engine) -> Population:
    return _populate(engine, LARGE)


@contextmanager
def _counted(engine: Engine) -> Iterator[list[str]]:
    """Every statement sent to the database meanwhile (an ``executemany`` counts once)."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _statements(population: Population, name: str, size: int) -> int:
    """Statements one change of ``size`` members runs, in a group that is the directory's
    assignment group and gives its members a role (so access and roles move with it)."""
    starts_full, change = CHANGES[name]
    ids = population.user_ids[:size]
    scope = population.scope
    group_id = _new_group(scope, ids if starts_full else [])
    with writing(scope.engine) as conn:
        stored_tenants.update_directory(conn, scope.directory_id, assignment_group=group_id)
        name_of = GROUPS.existing(conn, scope.directory_id, group_id, for_update=False)
        rule = roles.RoleRule(new_id(), "group_name", name_of.doc["displayName"], "member", 1)
        roles.add_rule(conn, scope.directory_id, rule)
    with reading(scope.engine) as conn:
        directory = stored_tenants.existing_directory(conn, scope.directory_id)
    scope = Scope(scope.engine, directory, scope.base_url, scope.limits)
    with _counted(scope.engine) as statements:
        change(scope, group_id, ids)
    return len(statements)


@pytest.mark.parametrize("name", CHANGES)
def test_statements_grow_with_batches_of_members_not_with_members(
    population: Population, name: str
) -> None:
    small = _statements(population, name, SMALL)
    large = _statements(population, name, LARGE)
    # Two more batches of 1,000 members: a few statements each (reads, the rows, the events).
    assert large - small <= 40, (small, large)


def test_a_large_member_change_stores_exactly_those_rows_and_announces_each(
    engine: Engine,
) -> None:
    population = _populate(engine, 2_500)  # three batches of ids
    scope, ids = population.scope, population.user_ids
    group_id = _new_group(scope)
    # Sent in a shuffled order: the events follow the request's order.
    sent = ids[1::2] + ids[::2]
    before = last_seq(engine)
    groups.patch_group(
        scope,
        group_id,
        _patch({"op": "add", "path": "members", "value": _members(sent)}),
        None,
        respond=False,
    )
    with reading(engine) as conn:
        rows = membership_lists.members_of(conn, scope.directory_id, group_id)
    assert sorted(member.id for member in rows) == sorted(ids)
    assert {member.type for member in rows} == {"User"}
    added = published(engine, scope.directory_id, before)
    assert [(each.type, each.resource_id) for each in added] == [
        ("group.user_added", member_id) for member_id in sent
    ]
    for each in added:
        assert each.data["group"]["id"] == group_id
        assert each.data["user"]["id"] == each.resource_id
        assert group_id in {g["id"] for g in each.data["user"]["groups"]}

    removed_ids = sent[:1_500]  # two batches
    before = last_seq(engine)
    groups.patch_group(
        scope,
        group_id,
        _patch({"op": "remove", "path": "members", "value": _members(removed_ids)}),
        None,
        respond=False,
    )
    with reading(engine) as conn:
        left = membership_lists.members_of(conn, scope.directory_id, group_id)
    assert sorted(member.id for member in left) == sorted(sent[1_500:])
    removed = published(engine, scope.directory_id, before)
    assert sorted((each.type, each.resource_id) for each in removed) == sorted(
        ("group.user_removed", member_id) for member_id in removed_ids
    )
    assert all(group_id not in {g["id"] for g in e.data["user"]["groups"]} for e in removed)


CAP = 3


@pytest.fixture(scope="module")
def capped_server(
    database_url: str, engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A server allowing ``CAP`` members per request."""
    log: Path = tmp_path_factory.mktemp("capped") / "server.log"
    with serving(database_url, log, SCIMGATE_MAX_MEMBERS_PER_REQUEST=str(CAP)) as url:
        yield LiveServer(url, engine)


def _user_ids(http: httpx.Client, count: int) -> list[str]:
    ids = []
    for n in range(count):
        answer = http.post(
            "/Users",
            json={
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": f"capped{n}-{secrets.token_hex(3)}@members.example",
            },
        )
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])
    return ids


def test_a_request_naming_more_members_than_allowed_is_refused_with_413(
    capped_server: LiveServer,
) -> None:
    directory = new_directory(capped_server)
    http = directory.http
    ids = _user_ids(http, CAP + 1)
    empty = http.post("/Groups", json=group("capped")).json()["id"]
    full = http.post("/Groups", json=group("full", ids[:CAP])).json()["id"]
    too_many = _members(ids)
    requests: dict[str, tuple[str, str, dict[str, Any]]] = {
        "POST": ("POST", "/Groups", group("too big", ids)),
        "PUT": ("PUT", f"/Groups/{empty}", group("capped", ids)),
        "PATCH add": (
            "PATCH",
            f"/Groups/{empty}",
            patch({"op": "add", "path": "members", "value": too_many}),
        ),
        "PATCH replace": (
            "PATCH",
            f"/Groups/{empty}",
            patch({"op": "replace", "path": "members", "value": too_many}),
        ),
        "PATCH, no path": (
            "PATCH",
            f"/Groups/{empty}",
            patch({"op": "add", "value": {"members": too_many}}),
        ),
        "PATCH remove by value list": (
            "PATCH",
            f"/Groups/{full}",
            patch({"op": "remove", "path": "members", "value": too_many}),
        ),
        "PATCH remove by filter": (
            "PATCH",
            f"/Groups/{full}",
            patch(
                {
                    "op": "remove",
                    "path": "members[" + " or ".join(f'value eq "{i}"' for i in ids) + "]",
                }
            ),
        ),
        "PATCH, adds over several operations": (
            "PATCH",
            f"/Groups/{empty}",
            patch(
                {"op": "add", "path": "members", "value": too_many[:2]},
                {"op": "add", "path": "members", "value": too_many[2:]},
            ),
        ),
    }
    for name, (method, path, body) in requests.items():
        answer = http.request(method, path, json=body)
        assert answer.status_code == 413, (name, answer.text)
        error = answer.json()
        assert error["status"] == "413", name
        assert f"names {CAP + 1} members; at most {CAP}" in error["detail"], name
        assert "Split it into PATCH requests" in error["detail"], name
    assert "members" not in http.get(f"/Groups/{empty}").json()
    assert len(http.get(f"/Groups/{full}").json()["members"]) == CAP
    assert (
        http.get("/Groups", params={"filter": 'displayName eq "too big"'}).json()["totalResults"]
        == 0
    )

    # In Bulk, the operation fails alone; the request is answered.
    answer = http.post(
        "/Bulk",
        json={
            "schemas": [BULK_SCHEMA],
            "Operations": [
                {"method": "PATCH", "path": f"/Groups/{empty}", "data": requests["PATCH add"][2]},
                {
                    "method": "PATCH",
                    "path": f"/Groups/{empty}",
                    "data": {
                        "schemas": [PATCH_SCHEMA],
                        "Operations": [{"op": "add", "path": "members", "value": too_many[:CAP]}],
                    },
                },
            ],
        },
    )
    assert answer.status_code == 200, answer.text
    assert [each["status"] for each in answer.json()["Operations"]] == ["413", "204"]
    assert len(http.get(f"/Groups/{empty}").json()["members"]) == CAP

    # At the limit, nothing is refused.
    at_limit = http.patch(
        f"/Groups/{full}",
        json=patch({"op": "remove", "path": "members", "value": too_many[:CAP]}),
    )
    assert at_limit.status_code == 204, at_limit.text


def test_the_member_limit_is_checked_before_anything_is_read(engine: Engine) -> None:
    """The limit is a property of the request: even a group that does not exist is not read."""
    population = _populate(engine, 0)
    scope = Scope(
        engine,
        population.scope.directory,
        population.scope.base_url,
        Limits(max_members_per_request=2),
    )
    with pytest.raises(SCIMException) as refused:
        groups.patch_group(
            scope,
            "no-such-group",
            _patch({"op": "add", "path": "members", "value": _members(["a", "b", "c"])}),
            None,
            respond=False,
        )
    assert refused.value.status == 413
