"""Random PATCH requests do, on both backends, what RFC 7644 §3.5.2 says, or nothing at all.

Each example provisions a user (or a group with members) through the service
layer, then sends it a sequence of random PATCH requests: ``add``, ``replace``
and ``remove``, with and without a path, on simple attributes, sub-attributes,
the enterprise extension, ``emails`` selected by value filters and a group's
``members``, with values of the right type and of the wrong one. After each
request the resource as a read returns it (``meta`` aside) must equal what the
independent reference of ``scim_reference`` computes; when scimgate refuses the
request with a SCIM 4xx error, the reference must consider it invalid too, and
the resource must be exactly as it was (same document, same version). Through
it all, ``meta.version`` changes exactly when the document does.

CI runs a bounded, reproducible set of examples. For a longer run from fresh
random seeds, with failures shrunk to a minimal example, set how many::

    SCIMGATE_PROPERTY_EXAMPLES=500 pytest tests/service/test_patch_properties.py -p no:randomly
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scim2_models import Context, SCIMException
from sqlalchemy import Engine

import scim_reference as ref
from property_support import property_settings
from scim_payloads import ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA, patch
from scim_reference import Attr, Compare, Logical, Operation, Path
from scimgate.scim.limits import Limits
from scimgate.scim.requests import read_patch, read_resource
from scimgate.service.administration import tenants
from scimgate.service.provisioning import groups, users
from scimgate.service.provisioning.scope import Scope

REQUESTS_PER_RESOURCE = 8

USER_SCHEMA_RULES = ref.Schema(
    simple={
        "username": str,
        "displayname": str,
        "title": str,
        "nickname": str,
        "active": bool,
        "externalid": str,
        f"{ENTERPRISE_SCHEMA.lower()}:department": str,
        f"{ENTERPRISE_SCHEMA.lower()}:employeenumber": str,
    },
    complex={"name": {"givenName": str, "familyName": str, "formatted": str}},
    multi={"emails": {"value": str, "type": str, "primary": bool, "display": str}},
    required=frozenset({"username"}),
    read_only=frozenset({"groups"}),
    spelled={
        "username": "userName",
        "displayname": "displayName",
        "title": "title",
        "nickname": "nickName",
        "active": "active",
        "externalid": "externalId",
        "department": "department",
        "employeenumber": "employeeNumber",
        "name": "name",
        "emails": "emails",
    },
)

TEXT = st.sampled_from(["Ada", "ada", "Élodie", "ß", 'say "hi"', "back\\slash", "Ünï", "x"])
WRONG = st.sampled_from([42, 1.5, ["x"], {"x": "y"}, True])
ADDRESSES = st.sampled_from(
    ["ada@acme.com", "ADA@acme.com", "élodie@bücher.example", "o.brien@corp.local", "z@x.org"]
)
TYPES = st.sampled_from(["work", "home", "Work", "other"])


@st.composite
def email(draw: st.DrawFn) -> dict[str, Any]:
    entry: dict[str, Any] = {"value": draw(ADDRESSES), "type": draw(TYPES)}
    if draw(st.booleans()):
        entry["primary"] = draw(st.booleans())
    return entry


@st.composite
def simple_value(draw: st.DrawFn, attr: str) -> Any:
    if draw(st.integers(0, 7)) == 0:
        return draw(WRONG)
    if attr == "active":
        # "True"/"False" strings are what Microsoft Entra sends; scimgate documents them.
        return draw(st.sampled_from([True, False, "True", "False", "maybe"]))
    return draw(TEXT)


SIMPLE = [
    Attr("userName"),
    Attr("displayName"),
    Attr("title"),
    Attr("nickName"),
    Attr("active"),
    Attr("externalId"),
    Attr("department", None, ref.ENTERPRISE),
    Attr("employeeNumber", None, ref.ENTERPRISE),
]
NAME_SUBS = ["givenName", "familyName", "formatted"]


@st.composite
def email_filter(draw: st.DrawFn) -> Any:
    """A value filter over e-mails: by type, by value, or both."""
    # Lower case: an e-mail created from the filter (scimgate's documented tolerance) has
    # its type in canonical case, a detail the RFC leaves to the server.
    by_type = Compare(Attr("type"), "eq", draw(st.sampled_from(["work", "home", "other"])))
    by_value = Compare(Attr("value"), "eq", draw(ADDRESSES))
    return draw(st.sampled_from([by_type, by_value, Logical("and", by_type, by_value)]))


@st.composite
def user_operation(draw: st.DrawFn) -> Operation:
    op = draw(st.sampled_from(["add", "replace", "remove"]))
    target = draw(
        st.sampled_from(
            ["simple"] * 4
            + ["name", "name.sub", "emails", "emails[]", "emails[].sub", "no path"]
            + ["read-only"]
        )
    )
    if target == "simple":
        attr = draw(st.sampled_from(SIMPLE))
        if op == "remove":
            return Operation(op, Path(attr), has_value=False)
        return Operation(op, Path(attr), draw(simple_value(attr.name.lower())))
    if target == "name":
        if op == "remove":
            return Operation(op, Path(Attr("name")), has_value=False)
        subs = draw(st.lists(st.sampled_from(NAME_SUBS), min_size=1, max_size=3, unique=True))
        return Operation(op, Path(Attr("name")), {sub: draw(TEXT) for sub in subs})
    if target == "name.sub":
        attr = Attr("name", draw(st.sampled_from(NAME_SUBS)))
        if op == "remove":
            return Operation(op, Path(attr), has_value=False)
        return Operation(op, Path(attr), draw(st.one_of(TEXT, WRONG)))
    if target == "emails":
        if op == "remove":
            return Operation(op, Path(Attr("emails")), has_value=False)
        value = draw(st.lists(email(), max_size=2)) if draw(st.integers(0, 6)) else "a@b.com"
        return Operation(op, Path(Attr("emails")), value)
    if target == "emails[]":
        path = Path(Attr("emails"), draw(email_filter()))
        if op == "remove":
            return Operation(op, path, has_value=False)
        # Every sub-attribute a stored e-mail can have is given: scimgate merges the value
        # into the selected ones where the RFC replaces them (see the dedicated test).
        # primary is false: made true, it would be true on every selected value, which RFC
        # 7643 §2.4 forbids and the RFC leaves unresolved (scimgate's answer depends on order).
        whole = {"value": draw(ADDRESSES), "type": draw(TYPES), "primary": False}
        return Operation("replace", path, whole)
    if target == "emails[].sub":
        path = Path(Attr("emails"), draw(email_filter()), draw(st.sampled_from(["value", "type"])))
        if op == "remove":
            return Operation(op, path, has_value=False)
        value = draw(ADDRESSES) if path.sub == "value" else draw(TYPES)
        return Operation(op, path, value)
    if target == "read-only":
        return Operation(op, Path(Attr("groups")), [] if op != "remove" else None)
    return Operation(draw(st.sampled_from(["add", "replace"])), None, draw(no_path_value()))


@st.composite
def no_path_value(draw: st.DrawFn) -> dict[str, Any]:
    """A no-path value: plain, dotted and URN-qualified keys, or the extension as an object."""
    value: dict[str, Any] = {}
    for _ in range(draw(st.integers(1, 3))):
        key = draw(
            st.sampled_from(
                [
                    "displayName",
                    "title",
                    "active",
                    "name.givenName",
                    f"{ENTERPRISE_SCHEMA}:department",
                    ENTERPRISE_SCHEMA,
                    "emails",
                ]
            )
        )
        if key.startswith(ENTERPRISE_SCHEMA) and any(
            k.startswith(ENTERPRISE_SCHEMA) for k in value
        ):
            continue  # one department per value: two would leave the order to chance
        if key == ENTERPRISE_SCHEMA:
            value[key] = {"department": draw(TEXT)}
        elif key == "emails":
            value[key] = draw(st.lists(email(), min_size=1, max_size=2))
        else:
            value[key] = draw(simple_value(key.lower()))
    return value


@st.composite
def spelled_op(draw: st.DrawFn, op: str) -> str:
    """The op as sent: Microsoft Entra capitalises it, which scimgate documents accepting."""
    return draw(st.sampled_from([op, op.capitalize(), op.upper()]))


@dataclass
class Outcome:
    refused: SCIMException | None
    before: dict[str, Any]
    after: dict[str, Any]


def _without_meta(content: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in content.items() if key != "meta"}


def _new_scope(engine: Engine) -> Scope:
    organization = tenants.create_organization(engine, f"patch {secrets.token_hex(3)}")
    directory = tenants.create_directory(engine, organization.id, "patch").directory
    return Scope(engine, directory, f"http://x.example/scim/v2/{directory.id}", Limits())


def _check_request(
    read: Any,
    send: Any,
    schema: ref.Schema,
    operations: list[Operation],
    body: dict[str, Any],
    comparable: Any,
) -> None:
    """Send one PATCH request and hold the outcome to the reference's."""
    before = read()
    try:
        expected = ref.apply_patch(ref.normalized(_without_meta(before)), schema, operations)
    except ref.PatchRefused as refusal:
        expected, reason = None, str(refusal)
    try:
        send(body)
    except SCIMException as exc:
        error = exc.to_error()
        after = read()
        assert 400 <= (error.status or 0) < 500, error
        assert after == before, f"{body} was refused ({error.detail}) but changed the resource"
        assert expected is None, f"{body} was refused ({error.detail}); the RFC gives {expected}"
        return
    after = read()
    assert expected is not None, f"{body} should be refused ({reason}); it gave {after}"
    got = ref.normalized(_without_meta(after))
    assert comparable(got) == comparable(expected), (body, before)
    changed = _without_meta(after) != _without_meta(before)
    moved = after["meta"]["version"] != before["meta"]["version"]
    assert changed == moved, f"version moved: {moved}, document changed: {changed}; {body}"


PROPERTY_SETTINGS = property_settings(25)


@PROPERTY_SETTINGS
@given(start=st.fixed_dictionaries({"emails": st.lists(email(), max_size=2)}), data=st.data())
def test_user_patch_sequences_follow_the_rfc(
    engine: Engine, start: dict[str, Any], data: st.DataObject
) -> None:
    scope = _new_scope(engine)
    body = {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "userName": "start@acme.com",
        "name": {"givenName": "Ada"},
        "active": True,
        ENTERPRISE_SCHEMA: {"department": "R&D"},
    }
    if start["emails"]:
        # At most one primary e-mail (RFC 7643 §2.4): the first one may be.
        body["emails"] = [start["emails"][0]] + [
            {k: v for k, v in entry.items() if k != "primary"} for entry in start["emails"][1:]
        ]
    model = read_resource(
        scope.models.user, body, Context.RESOURCE_CREATION_REQUEST, "user", scope.users_url
    )
    user_id = users.create_user(scope, model).id

    def read() -> dict[str, Any]:
        return users.get_user(scope, user_id).content

    def send(payload: dict[str, Any]) -> None:
        users.patch_user(
            scope, user_id, read_patch(scope.models.user, payload, scope.users_url), None
        )

    spelling = ref.Spelling(recase=data.draw(st.sampled_from([str, str.lower, str.upper])))
    for _ in range(REQUESTS_PER_RESOURCE):
        operations = data.draw(st.lists(user_operation(), min_size=1, max_size=3), label="ops")
        payload = patch(*(o.body(spelling, data.draw(spelled_op(o.op))) for o in operations))
        _check_request(read, send, USER_SCHEMA_RULES, operations, payload, lambda doc: doc)


GHOST = "01a20000-0000-7000-8000-000000000000"
"""An id no user or group of the directory has."""


def _group_rules(references: set[str]) -> ref.Schema:
    return ref.Schema(
        simple={"displayname": str, "externalid": str},
        complex={},
        multi={"members": {"value": str, "display": str, "type": str, "$ref": str}},
        required=frozenset({"displayname"}),
        spelled={"displayname": "displayName", "externalid": "externalId", "members": "members"},
        references=frozenset(references),
    )


def _members(ids: list[str]) -> list[dict[str, str]]:
    return [{"value": member_id} for member_id in ids]


@st.composite
def group_operation(draw: st.DrawFn, candidates: list[str]) -> Operation:
    """An operation on a group: its attributes, or its members (ids from ``candidates``)."""
    some = st.lists(st.sampled_from(candidates), max_size=3)
    target = draw(
        st.sampled_from(
            [
                "add members",
                "replace members",
                "remove all",
                "remove some",
                "remove listed",
                "attribute",
                "no path",
            ]
        )
    )
    if target in ("add members", "replace members"):
        return Operation(target.split()[0], Path(Attr("members")), _members(draw(some)))
    if target == "remove all":
        return Operation("remove", Path(Attr("members")), has_value=False)
    if target == "remove some":
        chosen = draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=2))
        node: Any = Compare(Attr("value"), "eq", chosen[0])
        for other in chosen[1:]:
            node = Logical("or", node, Compare(Attr("value"), "eq", other))
        return Operation("remove", Path(Attr("members"), node), has_value=False)
    if target == "remove listed":
        # Microsoft Entra names the members to remove in the value; scimgate documents it.
        return Operation("remove", Path(Attr("members")), _members(draw(some)))
    if target == "no path":
        value: dict[str, Any] = {"displayName": draw(TEXT)}
        if draw(st.booleans()):
            value["members"] = _members(draw(some))
        return Operation(draw(st.sampled_from(["add", "replace"])), None, value)
    attr = Attr(draw(st.sampled_from(["displayName", "externalId"])))
    op = draw(st.sampled_from(["add", "replace", "remove"]))
    if op == "remove":
        return Operation(op, Path(attr), has_value=False)
    return Operation(op, Path(attr), draw(st.one_of(TEXT, TEXT, WRONG)))


def _member_set(doc: dict[str, Any]) -> dict[str, Any]:
    """A group with its members as the set of their ids: the rest of a member is derived."""
    values = sorted({member["value"] for member in doc.get("members", [])})
    rest = {key: value for key, value in doc.items() if key != "members"}
    return {**rest, "members": values} if values else rest


@PROPERTY_SETTINGS
@given(start=st.sets(st.integers(0, 3)), data=st.data())
def test_group_patch_sequences_follow_the_rfc(
    engine: Engine, start: set[int], data: st.DataObject
) -> None:
    scope = _new_scope(engine)

    def create(model: Any, body: dict[str, Any], what: str) -> str:
        validated = read_resource(
            model, body, Context.RESOURCE_CREATION_REQUEST, what, scope.users_url
        )
        made = (
            users.create_user(scope, validated)
            if what == "user"
            else groups.create_group(scope, validated)
        )
        return made.id

    people = [
        create(scope.models.user, {"schemas": [USER_SCHEMA], "userName": f"m{n}@acme.com"}, "user")
        for n in range(4)
    ]
    other = create(scope.models.group, {"schemas": [GROUP_SCHEMA], "displayName": "Other"}, "group")
    group_id = create(
        scope.models.group,
        {
            "schemas": [GROUP_SCHEMA],
            "displayName": "Team",
            "members": _members([people[n] for n in sorted(start)]),
        },
        "group",
    )
    rules = _group_rules({*people, other})

    def read() -> dict[str, Any]:
        return groups.get_group(scope, group_id, with_members=True).content

    def send(payload: dict[str, Any]) -> None:
        request = read_patch(scope.models.group, payload, scope.users_url)
        groups.patch_group(scope, group_id, request, None, respond=False)

    candidates = [*people, other, GHOST]
    for _ in range(REQUESTS_PER_RESOURCE):
        operations = data.draw(
            st.lists(group_operation(candidates), min_size=1, max_size=3), label="ops"
        )
        payload = patch(*(o.body(ref.Spelling(), data.draw(spelled_op(o.op))) for o in operations))
        _check_request(read, send, rules, operations, payload, _member_set)


def test_members_added_and_removed_again_keep_the_version(engine: Engine) -> None:
    scope = _new_scope(engine)
    model = read_resource(
        scope.models.user,
        {"schemas": [USER_SCHEMA], "userName": "ann@acme.com"},
        Context.RESOURCE_CREATION_REQUEST,
        "user",
        scope.users_url,
    )
    user_id = users.create_user(scope, model).id
    team = read_resource(
        scope.models.group,
        {"schemas": [GROUP_SCHEMA], "displayName": "Team"},
        Context.RESOURCE_CREATION_REQUEST,
        "group",
        scope.users_url,
    )
    group_id = groups.create_group(scope, team).id
    before = groups.get_group(scope, group_id, with_members=True).content
    request = patch(
        {"op": "add", "path": "members", "value": [{"value": user_id}]},
        {"op": "remove", "path": f'members[value eq "{user_id}"]'},
    )
    groups.patch_group(
        scope,
        group_id,
        read_patch(scope.models.group, request, scope.users_url),
        None,
        respond=False,
    )
    after = groups.get_group(scope, group_id, with_members=True).content
    assert _without_meta(after) == _without_meta(before)
    assert after["meta"]["version"] == before["meta"]["version"]


@pytest.mark.xfail(
    strict=True,
    reason="divergence: replace on a filtered path without a sub-attribute merges the value "
    "into the selected e-mails, where RFC 7644 §3.5.2.3 replaces them",
)
def test_a_filtered_replace_replaces_the_selected_values(engine: Engine) -> None:
    scope = _new_scope(engine)
    body = {
        "schemas": [USER_SCHEMA],
        "userName": "ann@acme.com",
        "emails": [{"value": "ann@acme.com", "type": "work", "primary": True}],
    }
    model = read_resource(
        scope.models.user, body, Context.RESOURCE_CREATION_REQUEST, "user", scope.users_url
    )
    user_id = users.create_user(scope, model).id
    request = patch(
        {"op": "replace", "path": 'emails[type eq "work"]', "value": {"value": "a@acme.com"}}
    )
    users.patch_user(scope, user_id, read_patch(scope.models.user, request, scope.users_url), None)
    assert users.get_user(scope, user_id).content["emails"] == [{"value": "a@acme.com"}]
