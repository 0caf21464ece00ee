"""Every spelling RFC 7643 §2.1 allows for an attribute name does what the plain one does.

Attribute names are case-insensitive and may carry their schema's URN, or sit
in the object of that schema. A PATCH is sent in each spelling (lower case,
upper case, capitalised, URN-qualified, nested under the schema's URN, or with
the schema's URN or an empty path), with each op, for a group's members and for
users' attributes, over HTTP on both backends; the resource read back
afterwards must hold the new value. A 2xx that changed nothing is the failure
this guards against: the group members in their URN-qualified spelling used to
be answered 204 and dropped.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from conftest import DirectoryClient, LiveServer, new_directory
from scim_payloads import ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA, group, patch, user

SPELLINGS = (
    "lower",
    "UPPER",
    "Capitalised",
    "URN-qualified",
    "under the schema URN",
    "the schema URN as path",
    "an empty path",
)


def _recase(name: str, spelling: str) -> str:
    if spelling == "lower":
        return name.lower()
    if spelling == "UPPER":
        return name.upper()
    if spelling == "Capitalised":
        return name[:1].upper() + name[1:]
    return name


def _recased(value: Any, spelling: str) -> Any:
    """Sub-attribute keys of a value spelled like the attribute's own name."""
    if isinstance(value, list):
        return [_recased(entry, spelling) for entry in value]
    if isinstance(value, dict):
        return {_recase(key, spelling): item for key, item in value.items()}
    return value


def spelled(op: str, schema: str, name: str, value: Any, spelling: str) -> dict[str, Any]:
    """A PATCH operation setting ``name`` (``attr`` or ``attr.sub``) of ``schema``: without a
    path, or with a path naming the resource (empty) or the schema (its URN)."""
    attribute, _, sub = name.partition(".")
    nested = {sub: value} if sub else value
    if spelling == "the schema URN as path":
        return {"op": op, "path": schema, "value": {attribute: nested}}
    if spelling == "an empty path":
        plain = {attribute: nested}
        return {
            "op": op,
            "path": "",
            "value": plain if schema != ENTERPRISE_SCHEMA else {schema: plain},
        }
    return {"op": op, "value": _value(schema, name, value, spelling)}


def _value(schema: str, name: str, value: Any, spelling: str) -> dict[str, Any]:
    attribute, _, sub = name.partition(".")
    if spelling == "URN-qualified":
        return {f"{schema}:{name}": value}
    nested = {sub: value} if sub else value
    if spelling == "under the schema URN":
        return {schema: {attribute: nested}}
    key = _recase(attribute, spelling)
    inner = {_recase(sub, spelling): value} if sub else _recased(value, spelling)
    if schema == ENTERPRISE_SCHEMA:
        # An extension attribute lives in the extension's object; its URN is recased too.
        return {_recase(schema, spelling): {key: inner}}
    return {key: inner}


@pytest.fixture(scope="module")
def directory(live_server: LiveServer) -> Iterator[DirectoryClient]:
    """One directory for the whole table: every case provisions its own resources."""
    client = new_directory(live_server, "attribute names")
    yield client
    client.http.close()


def _created(scim: DirectoryClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = scim.http.post(path, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}@names.example"


@dataclass(frozen=True)
class UserCase:
    """A user attribute: how to set it, and what a read must then show."""

    schema: str
    name: str
    value: Callable[[DirectoryClient], Any]
    """The new value (it may need users of the directory, such as a manager)."""

    read: Callable[[dict[str, Any]], Any]
    expected: Callable[[Any], Any] = lambda value: value


def _manager_value(scim: DirectoryClient) -> dict[str, str]:
    return {"value": _created(scim, "/Users", user(_unique("boss")))["id"]}


def _manager(doc: dict[str, Any]) -> Any:
    manager = doc.get(ENTERPRISE_SCHEMA, {}).get("manager") or {}
    # The link must name the current manager: the id and the end of $ref agree.
    ref = manager.get("$ref", "")
    return manager.get("value"), ref.rsplit("/", 1)[-1]


USER_CASES = {
    "active": UserCase(USER_SCHEMA, "active", lambda _: False, lambda doc: doc.get("active")),
    "userName": UserCase(
        USER_SCHEMA, "userName", lambda _: _unique("renamed"), lambda doc: doc["userName"]
    ),
    "displayName": UserCase(
        USER_SCHEMA, "displayName", lambda _: "Ada L.", lambda doc: doc.get("displayName")
    ),
    "name.givenName": UserCase(
        USER_SCHEMA,
        "name.givenName",
        lambda _: "Augusta",
        lambda doc: (doc.get("name", {}).get("givenName"), doc.get("name", {}).get("familyName")),
        lambda value: (value, "Lovelace"),
    ),
    "emails": UserCase(
        USER_SCHEMA,
        "emails",
        lambda _: [{"value": "new@names.example", "type": "work", "primary": True}],
        lambda doc: [(e["value"], e.get("type"), e.get("primary")) for e in doc.get("emails", [])],
        lambda value: [("new@names.example", "work", True)],
    ),
    "department": UserCase(
        ENTERPRISE_SCHEMA,
        "department",
        lambda _: "Research",
        lambda doc: doc.get(ENTERPRISE_SCHEMA, {}).get("department"),
    ),
    "manager": UserCase(
        ENTERPRISE_SCHEMA,
        "manager",
        _manager_value,
        _manager,
        lambda value: (value["value"], value["value"]),
    ),
}


@pytest.mark.parametrize("op", ["add", "replace"])
@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("attribute", list(USER_CASES))
def test_user_attribute_in_every_spelling_is_applied(
    directory: DirectoryClient, attribute: str, spelling: str, op: str
) -> None:
    case = USER_CASES[attribute]
    previous_manager = _created(directory, "/Users", user(_unique("old-boss")))["id"]
    body = user(
        _unique("ada"),
        active=True,
        displayName="Ada",
        name={"givenName": "Ada", "familyName": "Lovelace"},
        schemas=[USER_SCHEMA, ENTERPRISE_SCHEMA],
        **{ENTERPRISE_SCHEMA: {"department": "R&D", "manager": {"value": previous_manager}}},
    )
    location = f"/Users/{_created(directory, '/Users', body)['id']}"
    value = case.value(directory)

    answer = directory.http.patch(
        location, json=patch(spelled(op, case.schema, case.name, value, spelling))
    )

    assert answer.status_code == 200, answer.text
    assert case.read(directory.http.get(location).json()) == case.expected(value)


@pytest.fixture
def team(directory: DirectoryClient) -> tuple[str, list[str]]:
    """A group holding one user, and two users of the directory (the member and another)."""
    people = [_created(directory, "/Users", user(_unique("member")))["id"] for _ in range(2)]
    team = _created(directory, "/Groups", group("Team", people[:1]))
    return f"/Groups/{team['id']}", people


def _member_ids(scim: DirectoryClient, location: str) -> set[str]:
    return {member["value"] for member in scim.http.get(location).json().get("members", [])}


@pytest.mark.parametrize("op", ["add", "replace"])
@pytest.mark.parametrize("spelling", SPELLINGS)
def test_group_members_in_every_spelling_are_applied(
    directory: DirectoryClient, team: tuple[str, list[str]], spelling: str, op: str
) -> None:
    location, (member, newcomer) = team
    operation = spelled(op, GROUP_SCHEMA, "members", [{"value": newcomer}], spelling)

    answer = directory.http.patch(location, json=patch(operation))

    assert answer.status_code in (200, 204), answer.text
    expected = {member, newcomer} if op == "add" else {newcomer}
    assert _member_ids(directory, location) == expected


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_replacing_members_with_none_empties_the_group_in_every_spelling(
    directory: DirectoryClient, team: tuple[str, list[str]], spelling: str
) -> None:
    """``replace`` with ``[]`` deprovisions through membership: it must not be a silent no-op."""
    location, _ = team
    operation = spelled("replace", GROUP_SCHEMA, "members", [], spelling)

    answer = directory.http.patch(location, json=patch(operation))

    assert answer.status_code in (200, 204), answer.text
    assert _member_ids(directory, location) == set()


# The enterprise manager (RFC 7643 §4.3): whatever the spelling, the stored $ref names the
# manager the value names.

MANAGER_SHAPES: dict[str, Callable[[str], Any]] = {
    "lower": lambda boss: {"manager": {"value": boss}},
    "Capitalised": lambda boss: {"Manager": {"Value": boss}},
    "UPPER": lambda boss: {"MANAGER": {"VALUE": boss}},
    "$Ref of another user": lambda boss: {
        "manager": {"Value": boss, "$Ref": "https://idp.example/Users/someone-else"}
    },
    "managerId": lambda boss: {"Manager": {"managerId": boss}},
    "id alone": lambda boss: {"manager": boss},
}


def _boss(scim: DirectoryClient) -> str:
    return str(_created(scim, "/Users", user(_unique("boss")))["id"])


def _linked_manager(doc: dict[str, Any]) -> tuple[str | None, str | None]:
    manager = doc.get(ENTERPRISE_SCHEMA, {}).get("manager") or {}
    return manager.get("value"), manager.get("$ref")


def _with_manager(user_name: str, extension: dict[str, Any]) -> dict[str, Any]:
    return user(
        user_name, schemas=[USER_SCHEMA, ENTERPRISE_SCHEMA], **{ENTERPRISE_SCHEMA: extension}
    )


@pytest.mark.parametrize("shape", list(MANAGER_SHAPES))
def test_manager_in_every_spelling_is_linked_on_create_and_replace(
    directory: DirectoryClient, shape: str
) -> None:
    first, second = _boss(directory), _boss(directory)
    user_name = _unique("report")
    created = directory.http.post(
        "/Users", json=_with_manager(user_name, MANAGER_SHAPES[shape](first))
    )
    assert created.status_code == 201, created.text
    assert _linked_manager(created.json()) == (first, f"{directory.base_url}/Users/{first}")

    location = f"/Users/{created.json()['id']}"
    replaced = directory.http.put(
        location, json=_with_manager(user_name, MANAGER_SHAPES[shape](second))
    )
    assert replaced.status_code == 200, replaced.text
    stored = directory.http.get(location).json()
    assert _linked_manager(stored) == (second, f"{directory.base_url}/Users/{second}")


MANAGER_PATHS = {
    "path …:manager": lambda boss: {
        "path": f"{ENTERPRISE_SCHEMA}:manager",
        "value": {"Value": boss},
    },
    "path …:Manager, VALUE": lambda boss: {
        "path": f"{ENTERPRISE_SCHEMA}:Manager",
        "value": {"VALUE": boss, "$Ref": "https://idp.example/Users/previous"},
    },
    "path …:manager.value": lambda boss: {
        "path": f"{ENTERPRISE_SCHEMA}:manager.value",
        "value": boss,
    },
    "no path, URN-qualified": lambda boss: {
        "value": {f"{ENTERPRISE_SCHEMA}:Manager": {"Value": boss}}
    },
    "no path, in the extension": lambda boss: {
        "value": {ENTERPRISE_SCHEMA: {"Manager": {"value": boss}}}
    },
    "no path, managerId": lambda boss: {
        "value": {ENTERPRISE_SCHEMA: {"manager": {"managerId": boss}}}
    },
}


@pytest.mark.parametrize("op", ["add", "replace"])
@pytest.mark.parametrize("shape", list(MANAGER_PATHS))
def test_a_patched_manager_is_linked_to_the_new_manager(
    directory: DirectoryClient, shape: str, op: str
) -> None:
    previous, current = _boss(directory), _boss(directory)
    report = _created(directory, "/Users", _with_manager(_unique("report"), {"manager": previous}))
    location = f"/Users/{report['id']}"

    answer = directory.http.patch(location, json=patch({"op": op, **MANAGER_PATHS[shape](current)}))

    assert answer.status_code == 200, answer.text
    expected = (current, f"{directory.base_url}/Users/{current}")
    assert _linked_manager(answer.json()) == expected
    assert _linked_manager(directory.http.get(location).json()) == expected


# Keys the service cannot apply are refused, and the resource is left as it was.

REFUSED_USER_VALUES = {
    "unknown attribute": ({"shoeSize": 42}, "invalidPath", ["shoeSize"]),
    "unknown attribute beside a known one": (
        {"active": False, "Shoesize": 42},
        "invalidPath",
        ["Shoesize"],
    ),
    "manager without its URN": ({"Manager": {"value": "x"}}, "invalidPath", ["Manager"]),
    "unregistered extension": (
        {"urn:ietf:params:scim:schemas:extension:acme:2.0:User:costCenter": "1"},
        "invalidPath",
        ["acme", "register"],
    ),
    "one attribute twice by case": (
        {"active": True, "Active": False},
        "invalidValue",
        ["'active'", "'Active'"],
    ),
    "one attribute twice by URN": (
        {"active": True, f"{USER_SCHEMA}:active": False},
        "invalidValue",
        ["'active'", f"'{USER_SCHEMA}:active'"],
    ),
    "the extension and its qualified attribute": (
        {ENTERPRISE_SCHEMA: {"department": "A"}, f"{ENTERPRISE_SCHEMA}:Department": "B"},
        "invalidValue",
        [f"{ENTERPRISE_SCHEMA}:Department"],
    ),
}


@pytest.mark.parametrize("case", list(REFUSED_USER_VALUES))
def test_a_no_path_key_that_cannot_be_applied_is_refused(
    directory: DirectoryClient, case: str
) -> None:
    value, scim_type, mentions = REFUSED_USER_VALUES[case]
    location = f"/Users/{_created(directory, '/Users', user(_unique('kept'), active=True))['id']}"
    before = directory.http.get(location).json()

    answer = directory.http.patch(location, json=patch({"op": "replace", "value": value}))

    assert answer.status_code == 400, answer.text
    assert answer.json()["scimType"] == scim_type
    for mention in mentions:
        assert mention in answer.json()["detail"]
    assert directory.http.get(location).json() == before


def test_members_named_twice_are_refused_and_the_group_kept(
    directory: DirectoryClient, team: tuple[str, list[str]]
) -> None:
    """Two member lists in one value: which one the client meant is unknowable, so neither."""
    location, (member, newcomer) = team
    value = {"members": [], "MEMBERS": [{"value": newcomer}]}

    answer = directory.http.patch(location, json=patch({"op": "replace", "value": value}))

    assert answer.status_code == 400, answer.text
    assert answer.json()["scimType"] == "invalidValue"
    assert "'members' and 'MEMBERS'" in answer.json()["detail"]
    assert _member_ids(directory, location) == {member}


def test_read_only_attributes_echoed_from_a_read_still_apply_the_rest(
    directory: DirectoryClient,
) -> None:
    """Okta and Entra echo what they read (``id``, ``meta``, ``schemas``, ``groups``), in any
    spelling: those keys change nothing and the others are applied."""
    team = _created(directory, "/Groups", group("Echo"))
    created = _created(directory, "/Users", user(_unique("echo"), active=True))
    assert directory.http.patch(
        f"/Groups/{team['id']}",
        json=patch({"op": "add", "path": "members", "value": [{"value": created["id"]}]}),
    ).status_code in (200, 204)
    location = f"/Users/{created['id']}"
    read = directory.http.get(location).json()
    echoed = {
        "ID": read["id"],
        "Meta": read["meta"],
        "SCHEMAS": read["schemas"],
        f"{USER_SCHEMA}:groups": read["groups"],
        "Active": False,
    }

    answer = directory.http.patch(location, json=patch({"op": "replace", "value": echoed}))

    assert answer.status_code == 200, answer.text
    stored = directory.http.get(location).json()
    assert stored["active"] is False
    assert [each["value"] for each in stored["groups"]] == [team["id"]]
