"""A group PATCH of member changes only, read in one pass, makes the changes the models' way makes.

The reference is ``read_patch`` then ``split_group_patch``, as the request path
does. The one-pass reader either gives the same membership changes or declines
(None) and leaves the body to that reference, errors included.
"""

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scim2_models import SCIMException

from property_support import mostly, property_settings
from scim_payloads import PATCH_SCHEMA, patch
from scimgate.scim.group_patch import MemberChange, split_group_patch
from scimgate.scim.member_patches import member_changes
from scimgate.scim.requests import decode_json, read_patch
from scimgate.scim.resources import GroupResource

USERS_URL = "https://scim.example.com/scim/v2/d1/Users"
ANN = "0190f2c4-6c1e-7d3a-9b1e-3f0c2a7d5e11"
BEN = "0190f2c4-6c1e-7d3a-9b1e-3f0c2a7d5e12"


def _reference(body: bytes) -> Any:
    """The membership changes the models' way makes, "other steps", or the error it raises."""
    try:
        steps = split_group_patch(read_patch(GroupResource, decode_json(body), USERS_URL))
    except SCIMException as exc:
        return ("refused", exc.status, exc.scim_type, exc.detail)
    if all(isinstance(step, MemberChange) for step in steps):
        return steps
    return "other steps"


def assert_agree(body: bytes) -> None:
    changes = member_changes(body)
    if changes is not None:
        assert changes == _reference(body), body


def _encoded(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")


ENTRA_ADD = {"op": "Add", "path": "members", "value": [{"$ref": None, "value": ANN}]}
ENTRA_REMOVE = {"op": "Remove", "path": "members", "value": [{"value": ANN}]}
OKTA_ADD = {"op": "add", "path": "members", "value": [{"value": ANN, "display": "Ann"}]}
OKTA_REMOVE = {"op": "remove", "path": f'members[value eq "{ANN}"]'}

IDP_PATCHES = [
    patch(ENTRA_ADD),
    patch(ENTRA_ADD, {**ENTRA_ADD, "value": [{"$ref": None, "value": BEN}]}),
    patch(ENTRA_REMOVE),
    patch({**ENTRA_REMOVE, "value": []}),
    patch(OKTA_ADD, OKTA_REMOVE),
    patch(OKTA_REMOVE),
    patch({"op": "replace", "path": "members", "value": [{"value": ANN}, {"value": BEN}]}),
    patch({"op": "remove", "path": "members"}),
    patch({"op": "add", "path": "members", "value": [{"value": ANN}, {"value": ANN}]}),
    patch(
        {
            "op": "add",
            "path": "members",
            "value": [{"value": ANN, "display": "Ann"}, {"value": ANN, "display": "Ann B."}],
        }
    ),
]


@pytest.mark.parametrize("body", IDP_PATCHES)
def test_identity_providers_member_patches_take_the_fast_path(body: Any) -> None:
    encoded = _encoded(body)
    assert member_changes(encoded) is not None
    assert_agree(encoded)


@pytest.mark.parametrize(
    "body",
    [
        patch({"op": "replace", "value": {"displayName": "Team"}}, OKTA_ADD),
        patch({**ENTRA_ADD, "path": "Members"}),
        patch({**ENTRA_ADD, "value": [{"value": ""}]}),
        patch({**ENTRA_ADD, "value": [{"value": 'a"b'}]}),
        patch({**ENTRA_ADD, "value": {"value": ANN}}),
        patch({**OKTA_REMOVE, "path": f'members[value eq "{ANN}" or value eq "{BEN}"]'}),
        patch({"op": "add", "path": "members"}),
        patch(),
        {"schemas": [PATCH_SCHEMA], "operations": [ENTRA_ADD]},
        {"Operations": [ENTRA_ADD]},
    ],
)
def test_other_patches_take_the_models_way(body: Any) -> None:
    assert member_changes(_encoded(body)) is None


IDS = mostly(
    st.sampled_from([ANN, BEN, "u1", "U1", "a.b@c:d-e_f"]),
    st.one_of(st.sampled_from(["", "a b", 'q"', "x\\y", "é"]), st.text(max_size=6)),
)
MEMBER = st.fixed_dictionaries(
    {"value": mostly(IDS, st.one_of(st.none(), st.integers()))},
    optional={
        "display": mostly(st.text(max_size=6), st.integers()),
        "$ref": mostly(st.none(), st.just(f"{USERS_URL}/{ANN}")),
    },
).flatmap(lambda member: mostly(st.just(member), st.just({**member, "type": "User"})))
MEMBERS = mostly(st.lists(MEMBER, max_size=3), st.one_of(MEMBER, st.none(), st.text(max_size=3)))
OP = mostly(
    st.sampled_from(["add", "Add", "remove", "Remove", "replace", "Replace"]),
    st.sampled_from(["ADD", "x", ""]),
)
PATH = mostly(
    st.one_of(st.just("members"), IDS.map(lambda member: f'members[value eq "{member}"]')),
    st.sampled_from(["Members", "displayName", "members.value", "", "members[type eq 1]"]),
)
OPERATION = st.one_of(
    st.fixed_dictionaries({"op": OP, "path": PATH, "value": MEMBERS}),
    st.fixed_dictionaries({"op": OP, "path": PATH, "value": MEMBERS}),
    st.fixed_dictionaries({"op": OP, "path": PATH}),
)
PATCHES = st.fixed_dictionaries(
    {
        "schemas": mostly(st.just([PATCH_SCHEMA]), st.sampled_from([[PATCH_SCHEMA.upper()], []])),
        "Operations": mostly(st.lists(OPERATION, min_size=1, max_size=3), st.just([])),
    }
)


@given(PATCHES)
@property_settings(300)
def test_member_patches_agree(body: Any) -> None:
    assert_agree(_encoded(body))


@given(PATCHES, st.data())
@property_settings(300)
def test_damaged_member_patches_agree(body: Any, data: st.DataObject) -> None:
    encoded = bytearray(_encoded(body))
    position = data.draw(st.integers(min_value=0, max_value=len(encoded) - 1))
    encoded[position] = data.draw(st.sampled_from([0, 0x22, 0x5C, 0x5D, 0x80, 0xFF, 0x20]))
    assert_agree(bytes(encoded))
