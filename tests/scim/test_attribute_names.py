"""Canonical attribute names (RFC 7643 §2.1), as pure functions: no database, no HTTP.

Every spelling of an attribute a client may send must come out as the one a
read returns, for the core schemas, the enterprise extension and a directory's
own extension schemas alike, so that what reads keys after it (the group PATCH
splitting, the manager tolerance) never misses one.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from scim2_models import Group, InvalidPathException, InvalidValueException, SCIMException

from scim_payloads import ENTERPRISE_SCHEMA, GROUP_SCHEMA, PATCH_SCHEMA, USER_SCHEMA
from scimgate.scim.attribute_names import canonical_patch, canonical_resource
from scimgate.scim.extensions import resource_models
from scimgate.scim.requests import read_patch
from scimgate.scim.resources import UserResource

ACME = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
ACME_USER = resource_models(
    (
        (
            "User",
            json.dumps(
                {
                    "id": ACME,
                    "name": "AcmeUser",
                    "attributes": [
                        {"name": "costCenter", "type": "string"},
                        {
                            "name": "site",
                            "type": "complex",
                            "subAttributes": [{"name": "floor", "type": "integer"}],
                        },
                    ],
                }
            ),
        ),
    )
).user
"""A user model with a directory's own extension, as a registered schema gives it."""

USERS_URL = "https://scim.example/scim/v2/d/Users"


def no_path_value(model: Any, value: Any, op: str = "replace") -> Any:
    body = {"schemas": [PATCH_SCHEMA], "Operations": [{"op": op, "value": value}]}
    return canonical_patch(model, body)["Operations"][0]["value"]


def _spellings(schema: str, name: str, value: Any) -> list[dict[str, Any]]:
    """Every way of writing ``name`` of ``schema`` in a value object."""
    attribute, _, sub = name.partition(".")
    nested = {sub: value} if sub else value
    recased = [attribute.lower(), attribute.upper(), attribute[:1].upper() + attribute[1:]]
    spellings: list[dict[str, Any]] = [
        {f"{schema}:{name}": value},
        {f"{schema.upper()}:{name.upper()}": value},
        {schema: {attribute: nested}},
        {schema.lower(): {attribute.upper(): nested}},
    ]
    if schema in (USER_SCHEMA, GROUP_SCHEMA):
        spellings += [{key: nested} for key in recased]
    else:
        spellings += [{schema: {key: nested}} for key in recased]
    return spellings


def _canonical(schema: str, name: str, value: Any) -> dict[str, Any]:
    attribute, _, sub = name.partition(".")
    nested = {sub: value} if sub else value
    return (
        {attribute: nested}
        if schema in (USER_SCHEMA, GROUP_SCHEMA)
        else {schema: {attribute: nested}}
    )


ATTRIBUTES = [
    (UserResource, USER_SCHEMA, "active", False),
    (UserResource, USER_SCHEMA, "userName", "ada"),
    (UserResource, USER_SCHEMA, "name.givenName", "Ada"),
    (UserResource, USER_SCHEMA, "emails", [{"value": "a@b.example", "type": "work"}]),
    (UserResource, ENTERPRISE_SCHEMA, "department", "R&D"),
    (UserResource, ENTERPRISE_SCHEMA, "manager", {"value": "boss"}),
    (ACME_USER, ACME, "costCenter", "CC-1"),
    (ACME_USER, ACME, "site.floor", 4),
    (Group, GROUP_SCHEMA, "members", [{"value": "someone"}]),
    (Group, GROUP_SCHEMA, "displayName", "Team"),
]


@pytest.mark.parametrize(("model", "schema", "name", "value"), ATTRIBUTES)
def test_every_spelling_of_an_attribute_comes_out_canonical(
    model: Any, schema: str, name: str, value: Any
) -> None:
    for spelled in _spellings(schema, name, value):
        assert no_path_value(model, spelled) == _canonical(schema, name, value), spelled
        body = {"schemas": [schema], **spelled}
        assert canonical_resource(model, body) == {"schemas": [schema]} | _canonical(
            schema, name, value
        ), spelled


def test_sub_attribute_keys_come_out_canonical() -> None:
    value = {
        "EMAILS": [{"VALUE": "a@b.example", "Type": "work", "PRIMARY": True}],
        f"{ENTERPRISE_SCHEMA}:Manager": {"Value": "boss", "$Ref": "x", "managerId": "kept"},
    }
    assert no_path_value(UserResource, value) == {
        "emails": [{"value": "a@b.example", "type": "work", "primary": True}],
        ENTERPRISE_SCHEMA: {"manager": {"value": "boss", "$ref": "x", "managerId": "kept"}},
    }


def test_objects_naming_parts_of_one_attribute_are_merged() -> None:
    value = {
        "name": {"givenName": "Ada"},
        "Name.FamilyName": "Lovelace",
        ENTERPRISE_SCHEMA: {"department": "R&D"},
        f"{ENTERPRISE_SCHEMA}:costCenter": "CC-1",
        USER_SCHEMA: {"title": "Countess"},
    }
    assert no_path_value(UserResource, value) == {
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        ENTERPRISE_SCHEMA: {"department": "R&D", "costCenter": "CC-1"},
        "title": "Countess",
    }


TWICE = [
    (Group, {"members": [], "MEMBERS": [{"value": "x"}]}, ("'members'", "'MEMBERS'")),
    (Group, {"members": [], f"{GROUP_SCHEMA}:members": []}, ("'members'",)),
    (Group, {"members": [], GROUP_SCHEMA: {"members": []}}, (f"'{GROUP_SCHEMA}/members'",)),
    (UserResource, {"active": True, "ACTIVE": False}, ("'active'", "'ACTIVE'")),
    (UserResource, {"name": None, "name.givenName": "x"}, ("'name'", "'name.givenName'")),
    (UserResource, {"emails": [], "emails.value": "x"}, ("'emails'", "'emails.value'")),
    (
        UserResource,
        {ENTERPRISE_SCHEMA: {"manager": None}, f"{ENTERPRISE_SCHEMA}:manager": {"value": "b"}},
        ("manager",),
    ),
    (UserResource, {"emails": [{"value": "a@b.c", "Value": "d@e.f"}]}, ("'value'", "'Value'")),
]


@pytest.mark.parametrize(("model", "value", "mentions"), TWICE)
def test_one_attribute_named_twice_is_refused_naming_both_keys(
    model: Any, value: dict[str, Any], mentions: tuple[str, ...]
) -> None:
    with pytest.raises(InvalidValueException) as refused:
        no_path_value(model, value)
    for mention in mentions:
        assert mention in str(refused.value.detail)
    with pytest.raises(InvalidValueException):
        canonical_resource(model, {"schemas": [str(model.__schema__)], **value})


@pytest.mark.parametrize(
    "key",
    ["shoeSize", "manager", f"{USER_SCHEMA}:shoeSize", f"{ENTERPRISE_SCHEMA}:shoeSize", ACME],
)
def test_a_no_path_key_naming_no_attribute_is_refused_with_invalid_path(key: str) -> None:
    with pytest.raises(InvalidPathException) as refused:
        no_path_value(UserResource, {"title": "x", key: 1})
    assert f"'{key}'" in str(refused.value.detail)
    assert "PATCH operation 1" in str(refused.value.detail)


def test_a_body_keeps_unknown_keys_for_the_models_to_refuse() -> None:
    body = {"schemas": [USER_SCHEMA], "userName": "a", "shoeSize": 42, ACME: {"x": 1}}
    assert canonical_resource(UserResource, body) == body


def test_message_and_operation_keys_come_out_canonical() -> None:
    body = {
        "SCHEMAS": [PATCH_SCHEMA],
        "operations": [
            {"OP": "Add", "Path": f"{ENTERPRISE_SCHEMA}:manager", "Value": {"VALUE": "boss"}},
            {"Op": "replace", "PATH": "Members", "value": [{"Value": "x", "DISPLAY": "X"}]},
            {"op": "replace", "path": ENTERPRISE_SCHEMA, "value": {"Department": "R&D"}},
            {"op": "remove", "path": "title"},
        ],
    }
    assert canonical_patch(UserResource, body) == {
        "schemas": [PATCH_SCHEMA],
        "Operations": [
            {"op": "Add", "path": f"{ENTERPRISE_SCHEMA}:manager", "value": {"value": "boss"}},
            {"op": "replace", "path": "Members", "value": [{"Value": "x", "DISPLAY": "X"}]},
            {"op": "replace", "path": ENTERPRISE_SCHEMA, "value": {"department": "R&D"}},
            {"op": "remove", "path": "title"},
        ],
    }
    assert canonical_patch(Group, body)["Operations"][1]["value"] == [
        {"value": "x", "display": "X"}
    ]


@pytest.mark.parametrize("path", [GROUP_SCHEMA, GROUP_SCHEMA.lower(), ""])
def test_the_resources_own_schema_or_an_empty_path_is_no_path(path: str) -> None:
    """So that a group's members under it are split off as rows, like any no-path ``members``."""
    body = {
        "schemas": [PATCH_SCHEMA],
        "Operations": [{"op": "replace", "path": path, "value": {"Members": []}}],
    }
    assert canonical_patch(Group, body)["Operations"] == [
        {"op": "replace", "value": {"members": []}}
    ]


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "add", "path": ENTERPRISE_SCHEMA, "value": {"Manager": "boss"}},
        {"op": "add", "path": ENTERPRISE_SCHEMA, "value": {"manager": {"VALUE": "boss"}}},
        {"op": "add", "value": {ENTERPRISE_SCHEMA.upper(): {"manager": {"managerId": "boss"}}}},
        {"op": "add", "value": {f"{ENTERPRISE_SCHEMA}:MANAGER": "boss"}},
    ],
)
def test_a_manager_in_any_shape_gets_its_reference(operation: dict[str, Any]) -> None:
    body = {"schemas": [PATCH_SCHEMA], "Operations": [operation]}
    value = read_patch(UserResource, body, USERS_URL).operations[0].value  # type: ignore[index]
    extension = value if "path" in operation else value[ENTERPRISE_SCHEMA]
    assert extension["manager"] == {"value": "boss", "$ref": f"{USERS_URL}/boss"}


def test_an_operation_in_other_spellings_still_gets_its_manager_reference() -> None:
    body = {
        "schemas": [PATCH_SCHEMA],
        "operations": [{"OP": "Add", "PATH": f"{ENTERPRISE_SCHEMA}:Manager", "VALUE": "boss"}],
    }
    operation = read_patch(UserResource, body, USERS_URL).operations[0]  # type: ignore[index]
    assert operation.value == {"value": "boss", "$ref": f"{USERS_URL}/boss"}


def test_a_key_beside_operations_is_blamed_on_the_request_not_an_operation() -> None:
    """The error names where the stray key is: at the top level, not in operation 1."""
    body = {
        "schemas": [PATCH_SCHEMA],
        "id": "2819c223",
        "Operations": [{"op": "replace", "path": "active", "value": False}],
    }
    with pytest.raises(SCIMException) as refused:
        read_patch(UserResource, body, USERS_URL)
    detail = str(refused.value.detail)
    assert "top level" in detail
    assert "id" in detail
    assert "operation 1" not in detail


def test_a_bad_operation_is_still_named_by_its_number() -> None:
    body = {
        "schemas": [PATCH_SCHEMA],
        "Operations": [
            {"op": "replace", "path": "active", "value": False},
            {"op": "replace", "path": "shoeSize", "value": 1},
        ],
    }
    with pytest.raises(SCIMException) as refused:
        read_patch(UserResource, body, USERS_URL)
    assert "operation 2 (replace shoeSize)" in str(refused.value.detail)
