"""A member added to a group is announced as it stands after the request, however its
payload was built: on SQLite from the read that found it before it joined, the group
added to its groups; otherwise read again after the change.

Each test compares every event a request recorded that carries a user with the user
read afresh once the request has committed.
"""

from typing import Any

from scim2_models import Group
from sqlalchemy import Engine

from event_support import last_seq, published
from factories import new_scope, scope_of
from scim_payloads import patch
from scimgate.scim.requests import read_patch
from scimgate.scim.resources import UserResource
from scimgate.service.administration import roles
from scimgate.service.event_stream.changes import changing
from scimgate.service.event_stream.payloads import user_json
from scimgate.service.event_stream.safety import set_assignment_group
from scimgate.service.provisioning import groups
from scimgate.service.provisioning.scope import Scope
from scimgate.service.provisioning.users import create_user
from scimgate.store.ids import new_id


def _users(scope: Scope, count: int) -> list[str]:
    made = []
    for n in range(count):
        name = f"member{n}-{new_id()[-6:]}@payloads.example"
        user = UserResource(user_name=name, display_name=f"Member {n}", active=True)
        made.append(str(create_user(scope, user).content["id"]))
    return made


def _group(scope: Scope, name: str, external_id: str | None = None) -> str:
    group = Group(display_name=name, external_id=external_id)
    return str(groups.create_group(scope, group).content["id"])


def _add(scope: Scope, group_id: str, ids: list[str], *more: dict[str, Any]) -> None:
    operations = [{"op": "add", "path": "members", "value": [{"value": each} for each in ids]}]
    body = read_patch(Group, patch(*operations, *more), "http://x.example/Groups")
    groups.patch_group(scope, group_id, body, None, respond=False)


def _as_they_stand(engine: Engine, directory_id: str, user_ids: set[str]) -> dict[str, Any]:
    with changing(engine, directory_id) as work:  # records nothing: publishes nothing
        return {user_id: user_json(work.builder.user(user_id)) for user_id in user_ids}


def _announced_users(engine: Engine, scope: Scope, after: int) -> list[tuple[str, dict[str, Any]]]:
    """Each user an event after ``after`` carries, with the event's type."""
    return [
        (event.type, event.data["user"])
        for event in published(engine, scope.directory_id, after)
        if event.data.get("user") is not None
    ]


def _check(engine: Engine, scope: Scope, after: int, expected_types: set[str]) -> None:
    """Every user announced after ``after`` is the user as it now stands, but for its roles
    before its ``user.roles_changed`` (recorded last): those it had before the request."""
    announced = [
        event for event in published(engine, scope.directory_id, after) if event.data.get("user")
    ]
    assert {event.type for event in announced} == expected_types
    now = _as_they_stand(engine, scope.directory_id, {e.data["user"]["id"] for e in announced})
    earlier_roles = {
        event.data["user"]["id"]: event.data["previous_roles"]
        for event in announced
        if event.type == "user.roles_changed"
    }
    for event in announced:
        user = event.data["user"]
        expected = now[user["id"]]
        if event.type != "user.roles_changed" and user["id"] in earlier_roles:
            expected = {**expected, "roles": earlier_roles[user["id"]]}
        assert user == expected, event.type


def test_users_in_other_groups_are_announced_with_every_group_in_order(engine: Engine) -> None:
    scope = new_scope(engine, "payloads")
    user_ids = _users(scope, 6)
    # Groups made first sort before the new one by id, groups made after it, after it.
    early = _group(scope, "Early", "early-ext")
    target = _group(scope, "Target", "target-ext")
    late = _group(scope, "Late")
    _add(scope, early, user_ids[:4])
    _add(scope, late, user_ids[2:])
    after = last_seq(engine)
    _add(scope, target, user_ids)
    _check(engine, scope, after, {"group.user_added"})
    in_groups = {
        user["id"]: [group["name"] for group in user["groups"]]
        for _, user in _announced_users(engine, scope, after)
    }
    assert in_groups[user_ids[0]] == ["Early", "Target"]
    assert in_groups[user_ids[3]] == ["Early", "Target", "Late"]
    assert in_groups[user_ids[5]] == ["Target", "Late"]


def test_a_group_renamed_by_the_request_that_adds_members_is_announced_by_its_new_name(
    engine: Engine,
) -> None:
    scope = new_scope(engine, "payloads")
    user_ids = _users(scope, 3)
    target = _group(scope, "Before")
    after = last_seq(engine)
    _add(scope, target, user_ids, {"op": "replace", "path": "displayName", "value": "After"})
    _check(engine, scope, after, {"group.user_added"})
    for _, user in _announced_users(engine, scope, after):
        assert [group["name"] for group in user["groups"]] == ["After"]


def test_a_member_added_and_removed_in_one_request_is_announced_as_the_request_left_it(
    engine: Engine,
) -> None:
    scope = new_scope(engine, "payloads")
    kept, dropped = _users(scope, 2)
    target = _group(scope, "Target")
    after = last_seq(engine)
    removal = {"op": "remove", "path": f'members[value eq "{dropped}"]'}
    _add(scope, target, [kept, dropped], removal)
    _check(engine, scope, after, {"group.user_added", "group.user_removed"})


def test_roles_and_access_follow_from_the_groups_the_payload_was_built_with(
    engine: Engine,
) -> None:
    scope = new_scope(engine, "payloads")
    user_ids = _users(scope, 3)
    other = _group(scope, "Other")
    target = _group(scope, "Engineering", "eng-ext")
    _add(scope, other, user_ids[:1])
    roles.add_rule(engine, scope.directory_id, "group_external_id", "eng-ext", "engineer", 1)
    roles.add_rule(engine, scope.directory_id, "group_name", "other", "other", 2)
    set_assignment_group(engine, scope.directory_id, "Engineering")
    scope = scope_of(engine, scope.directory_id)  # its assignment group set
    after = last_seq(engine)
    _add(scope, target, user_ids)
    _check(engine, scope, after, {"group.user_added", "user.reactivated", "user.roles_changed"})
    now = _as_they_stand(engine, scope.directory_id, set(user_ids))
    assert now[user_ids[0]]["roles"] == ["engineer", "other"]
    assert now[user_ids[1]]["roles"] == ["engineer"]
    assert {user["state"] for user in now.values()} == {"active"}


def test_a_user_of_the_directory_that_is_a_member_already_is_not_announced_again(
    engine: Engine,
) -> None:
    scope = new_scope(engine, "payloads")
    user_ids = _users(scope, 3)
    target = _group(scope, "Target")
    nested = _group(scope, "Nested")
    _add(scope, target, [*user_ids[:1], nested])
    after = last_seq(engine)
    _add(scope, target, [*user_ids, nested])
    announced = _announced_users(engine, scope, after)
    assert sorted(user["id"] for _, user in announced) == sorted(user_ids[1:])
    kinds = {event.type for event in published(engine, scope.directory_id, after)}
    assert kinds == {"group.user_added"}
    _check(engine, scope, after, {"group.user_added"})
