"""What identity providers send beyond the strict RFC reading, made acceptable (scim.tolerance).

The shapes are the documented ones: Entra's ``manager`` as a plain id and its
ADSCIM group schema, OneLogin's ``managerId`` with a ``displayName``, the
unquoted ``filter=externalId eq jyoung`` of Microsoft's tutorial, and Entra's
``Add``/``Replace`` on ``addresses[type eq "work"].locality`` for an address the
user does not have yet. Everything else keeps its RFC meaning, refusals included.
"""

import copy
import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from scim2_models import (
    Context,
    EnterpriseUser,
    InvalidValueException,
    MutabilityException,
    NoTargetException,
    PatchOp,
    PatchOperation,
    SearchRequest,
    User,
)

from property_support import property_settings
from scim_payloads import ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA, patch
from scimgate.scim.patch_targets import NO_TARGET_HINT
from scimgate.scim.requests import decode_json, read_patch, read_resource
from scimgate.scim.resources import GroupResource, UserResource
from scimgate.scim.tolerance import (
    apply_patch,
    quote_bare_values,
    settle_manager,
    tolerate_patch,
    tolerate_resource,
)

USERS_URL = "https://scim.example.com/scim/v2/d1/Users"
ADSCIM = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
BOSS = "0190f2c4-6c1e-7d3a-9b1e-3f0c2a7d5e11"
OTHER = "0190f2c4-6c1e-7d3a-9b1e-3f0c2a7d5e12"
COMPLETE = {"value": BOSS, "$ref": f"{USERS_URL}/{BOSS}"}


def _with_manager(manager: Any) -> dict[str, Any]:
    return {"schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA], ENTERPRISE_SCHEMA: {"manager": manager}}


def _manager_of(sent: Any) -> Any:
    return tolerate_resource(_with_manager(sent), USERS_URL)[ENTERPRISE_SCHEMA]["manager"]


# quote_bare_values


@pytest.mark.parametrize(
    ("written", "quoted"),
    [
        ("externalId eq jyoung", 'externalId eq "jyoung"'),
        ("externalId EQ jyoung", 'externalId EQ "jyoung"'),
        ("userName eq jyoung@contoso.com", 'userName eq "jyoung@contoso.com"'),
        (
            "emails[type eq work].value eq a@b.c",
            'emails[type eq "work"].value eq "a@b.c"',
        ),
        (
            "(externalId eq jyoung) and active eq true",
            '(externalId eq "jyoung") and active eq true',
        ),
        ('userName eq "a" or externalId ne jyoung', 'userName eq "a" or externalId ne "jyoung"'),
        ("title co Eng", 'title co "Eng"'),
        ("title sw Eng", 'title sw "Eng"'),
        ("title ew Eng", 'title ew "Eng"'),
        ("meta.created gt 2024-01-01T00:00:00Z", 'meta.created gt "2024-01-01T00:00:00Z"'),
        ("x ge a", 'x ge "a"'),
        ("x lt a", 'x lt "a"'),
        ("x le a", 'x le "a"'),
        ("x eq 42abc", 'x eq "42abc"'),
        ("x eq True", 'x eq "True"'),
    ],
)
def test_unquoted_string_values_are_quoted(written: str, quoted: str) -> None:
    assert quote_bare_values(written) == quoted


@pytest.mark.parametrize(
    "written",
    [
        'externalId eq "jyoung"',
        "active eq true",
        "active eq false",
        "manager eq null",
        "x gt 42",
        "x lt -1.5",
        "x ge 1e3",
        "x le 2.5E-3",
        "userName pr",
        'emails[type eq "work"] and not (active eq false)',
        "",
    ],
)
def test_a_filter_without_bare_strings_is_left_as_it_is(written: str) -> None:
    assert quote_bare_values(written) is None


def test_microsofts_unquoted_example_becomes_a_filter_the_models_read() -> None:
    """``filter=externalId eq jyoung`` (Microsoft's tutorial) is refused as written, read quoted."""
    search = SearchRequest[UserResource]

    with pytest.raises(ValueError, match="invalid syntax"):
        search.model_validate({"filter": "externalId eq jyoung"}, scim_ctx=Context.SEARCH_REQUEST)
    quoted = quote_bare_values("externalId eq jyoung")
    read = search.model_validate({"filter": quoted}, scim_ctx=Context.SEARCH_REQUEST)
    assert str(read.filter) == 'externalId eq "jyoung"'


def test_text_inside_a_quoted_value_is_not_rewritten() -> None:
    written = 'displayName eq "Sales eq EMEA" and externalId eq jyoung'
    assert quote_bare_values(written) == 'displayName eq "Sales eq EMEA" and externalId eq "jyoung"'


_WORDS = st.sampled_from(
    ["jyoung", "a@b.c", "true", "false", "null", "42", "-1.5", "1e3", "4x", "W", "work", "é"]
)
_OPS = st.sampled_from(["eq", "NE", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr"])
_ATTRIBUTES = st.sampled_from(["userName", "emails.value", "externalId", "name.givenName"])


@st.composite
def _filters(draw: st.DrawFn) -> str:
    """Filters as an IdP might write them: some values quoted, some bare, some literals."""
    terms = []
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        attribute, op = draw(_ATTRIBUTES), draw(_OPS)
        if op == "pr":
            terms.append(f"{attribute} pr")
            continue
        word = draw(_WORDS)
        value = f'"{word}"' if draw(st.booleans()) else word
        term = f"{attribute} {op} {value}"
        terms.append(f"({term})" if draw(st.booleans()) else term)
    joiners = draw(
        st.lists(
            st.sampled_from([" and ", " or "]), min_size=len(terms) - 1, max_size=len(terms) - 1
        )
    )
    return terms[0] + "".join(j + t for j, t in zip(joiners, terms[1:], strict=False))


@given(_filters())
@property_settings(200)
def test_quoting_only_adds_quotes_around_bare_words_once(written: str) -> None:
    quoted = quote_bare_values(written)
    if quoted is None:
        # Nothing bare: every compared value is quoted or a JSON literal.
        assert not re.search(
            r"\b(?:eq|ne|co|sw|ew|gt|ge|lt|le)\s+(?:jyoung|a@b|4x|W|work|é)", written, re.I
        )
        return
    assert quoted != written
    assert quoted.replace('"', "") == written.replace('"', "")
    assert quote_bare_values(quoted) is None
    # The grammar now reads it; the models may still refuse a value of the wrong type.
    try:
        SearchRequest[UserResource].model_validate(
            {"filter": quoted}, scim_ctx=Context.SEARCH_REQUEST
        )
    except ValidationError as refused:
        assert "invalid syntax" not in str(refused)


# tolerate_resource


@pytest.mark.parametrize("urn", [ADSCIM, ADSCIM.lower(), ADSCIM.upper()])
def test_entras_adscim_group_schema_is_left_out(urn: str) -> None:
    body = {"schemas": [GROUP_SCHEMA, urn], "displayName": "Sales"}
    assert tolerate_resource(body, USERS_URL) == {"schemas": [GROUP_SCHEMA], "displayName": "Sales"}


def test_entras_group_creation_reads_as_a_core_group() -> None:
    body = {
        "schemas": [GROUP_SCHEMA, ADSCIM],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "displayName",
        "meta": {"resourceType": "Group"},
    }
    group = read_resource(
        GroupResource, body, Context.RESOURCE_CREATION_REQUEST, "group", USERS_URL
    )
    assert group.schemas == [GROUP_SCHEMA]
    assert group.display_name == "displayName"


def test_other_schemas_keep_their_order() -> None:
    body = {"schemas": ["urn:example:a", USER_SCHEMA, ENTERPRISE_SCHEMA]}
    assert tolerate_resource(body, USERS_URL)["schemas"] == body["schemas"]


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        pytest.param(BOSS, COMPLETE, id="entra-plain-id"),
        pytest.param({"value": BOSS}, COMPLETE, id="no-ref"),
        pytest.param({"value": BOSS, "$ref": None}, COMPLETE, id="null-ref"),
        pytest.param(
            {"value": BOSS, "$ref": f"{USERS_URL}/{OTHER}"}, COMPLETE, id="ref-to-another-user"
        ),
        pytest.param(
            {"value": BOSS, "$ref": f"https://elsewhere.example/Users/{BOSS}"},
            {"value": BOSS, "$ref": f"https://elsewhere.example/Users/{BOSS}"},
            id="ref-to-this-user-kept",
        ),
        pytest.param(
            {"value": BOSS, "displayName": "Boss"}, COMPLETE, id="read-only-display-name-dropped"
        ),
        pytest.param(
            {"managerId": BOSS, "displayName": "Boss"}, COMPLETE, id="onelogin-manager-id"
        ),
        pytest.param({"ManagerID": BOSS, "DisplayName": "Boss"}, COMPLETE, id="key-case"),
        pytest.param({"value": BOSS, "managerId": OTHER}, COMPLETE, id="value-wins-over-id"),
        pytest.param("", None, id="empty-id-is-no-manager"),
        pytest.param({"managerId": ""}, None, id="empty-onelogin-id-is-no-manager"),
        pytest.param(None, None, id="null"),
        pytest.param({"value": ""}, {"value": ""}, id="empty-value-gets-no-ref"),
    ],
)
def test_a_manager_in_any_shape_becomes_the_rfcs(sent: Any, stored: Any) -> None:
    assert _manager_of(sent) == stored


def test_a_manager_shape_it_does_not_know_is_left_for_the_models_to_judge() -> None:
    """The list form of an old Microsoft example is not rewritten: the models refuse it."""
    listed = [{"$ref": f"{USERS_URL}/{BOSS}", "value": BOSS}]
    assert _manager_of(listed) == listed


def test_the_extensions_other_attributes_are_kept() -> None:
    body = {ENTERPRISE_SCHEMA: {"employeeNumber": "7", "manager": BOSS, "department": "Sales"}}
    assert tolerate_resource(body, USERS_URL) == {
        ENTERPRISE_SCHEMA: {"employeeNumber": "7", "manager": COMPLETE, "department": "Sales"}
    }


@pytest.mark.parametrize(
    "body",
    [
        {"userName": "ann", "schemas": "not a list"},
        {"userName": "ann", ENTERPRISE_SCHEMA: "not an object"},
        {"userName": "ann", ENTERPRISE_SCHEMA: {"department": "Sales"}},
        {"userName": "ann", "manager": BOSS},
    ],
)
def test_a_body_with_nothing_to_adapt_comes_back_equal(body: dict[str, Any]) -> None:
    assert tolerate_resource(body, USERS_URL) == body


def test_the_body_read_is_not_changed() -> None:
    body = {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA, ADSCIM],
        ENTERPRISE_SCHEMA: {"manager": {"managerId": BOSS, "displayName": "Boss"}},
    }
    before = copy.deepcopy(body)
    tolerate_resource(body, USERS_URL)
    assert body == before


def test_entras_manager_as_a_plain_id_is_read_as_a_complex_manager() -> None:
    body = {"schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA], "userName": "ann"}
    body[ENTERPRISE_SCHEMA] = {"manager": BOSS}
    user = read_resource(UserResource, body, Context.RESOURCE_CREATION_REQUEST, "user", USERS_URL)
    manager = user[EnterpriseUser].manager
    assert (manager.value, manager.ref) == (BOSS, f"{USERS_URL}/{BOSS}")


# tolerate_patch


@pytest.mark.parametrize(
    "path",
    ["manager", "Manager", f"{ENTERPRISE_SCHEMA}:manager", f"{ENTERPRISE_SCHEMA}:Manager".upper()],
)
def test_a_manager_path_gets_a_complete_manager(path: str) -> None:
    operation = {"op": "Add", "path": path, "value": BOSS}
    adapted = tolerate_patch(patch(operation), USERS_URL)
    assert adapted["Operations"] == [{**operation, "value": COMPLETE}]


def test_the_extensions_path_gets_its_manager_completed() -> None:
    operation = {"op": "replace", "path": ENTERPRISE_SCHEMA, "value": {"manager": BOSS, "x": 1}}
    adapted = tolerate_patch(patch(operation), USERS_URL)
    assert adapted["Operations"][0]["value"] == {"manager": COMPLETE, "x": 1}


def test_a_no_path_value_leaves_out_what_a_read_echoed_and_completes_the_manager() -> None:
    value = {
        "displayName": "Ann",
        "groups": [{"value": "g1"}],
        "meta": {"resourceType": "User"},
        ENTERPRISE_SCHEMA: {"manager": {"value": BOSS}},
    }
    adapted = tolerate_patch(patch({"op": "replace", "value": value}), USERS_URL)
    assert adapted["Operations"][0]["value"] == {
        "displayName": "Ann",
        ENTERPRISE_SCHEMA: {"manager": COMPLETE},
    }


@pytest.mark.parametrize(
    "path",
    [
        "groups",
        "Groups",
        'groups[value eq "g1"]',
        'groups[value eq "g1"].display',
        f"{USER_SCHEMA}:groups",
    ],
)
def test_a_users_groups_are_refused_with_the_way_to_change_membership(path: str) -> None:
    with pytest.raises(MutabilityException) as refused:
        tolerate_patch(patch({"op": "add", "path": path, "value": [{"value": "g1"}]}), USERS_URL)
    assert refused.value.scim_type == "mutability"
    assert "PATCH /Groups/{id}" in str(refused.value.detail)


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": "displayName", "value": "Ann"},
        {"op": "add", "path": "groupsOfMine", "value": "x"},
        {"op": "remove", "path": 'emails[type eq "work"]'},
        {"op": "replace", "path": "active", "value": "False"},
        "not an operation",
    ],
)
def test_other_operations_pass_unchanged(operation: Any) -> None:
    body = patch(operation)
    assert tolerate_patch(body, USERS_URL) == body


@pytest.mark.parametrize("body", [{"schemas": []}, {"Operations": "none"}, {"Operations": None}])
def test_a_body_without_an_operations_list_is_returned_as_it_is(body: dict[str, Any]) -> None:
    assert tolerate_patch(body, USERS_URL) is body


def test_the_patch_read_is_not_changed() -> None:
    body = patch(
        {"op": "Add", "path": "manager", "value": BOSS},
        {"op": "replace", "value": {"groups": [], ENTERPRISE_SCHEMA: {"manager": BOSS}}},
    )
    before = copy.deepcopy(body)
    tolerate_patch(body, USERS_URL)
    assert body == before


# apply_patch and settle_manager


def _user(**attributes: Any) -> Any:
    return UserResource.model_validate(
        {"schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA], "userName": "ann", **attributes}
    )


def _apply(user: Any, *operations: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps(patch(*operations)).encode()
    apply_patch(read_patch(UserResource, decode_json(body), USERS_URL), user)
    return dict(user.model_dump(exclude_none=True))


def test_entras_address_parts_create_one_work_address() -> None:
    """Entra sends each part of an address the user has no entry for yet."""
    done = _apply(
        _user(),
        {"op": "Add", "path": 'addresses[type eq "work"].streetAddress', "value": "1 Main St"},
        {"op": "Add", "path": 'addresses[type eq "work"].locality', "value": "Paris"},
        {"op": "Replace", "path": 'addresses[type eq "work"].postalCode', "value": "75001"},
    )
    assert done["addresses"] == [
        {"streetAddress": "1 Main St", "locality": "Paris", "postalCode": "75001", "type": "work"}
    ]


@pytest.mark.parametrize(
    ("attribute", "kind"),
    [("phoneNumbers", "mobile"), ("phoneNumbers", "fax"), ("emails", "work"), ("ims", "skype")],
)
def test_a_typed_value_is_created_for_a_canonical_type(attribute: str, kind: str) -> None:
    done = _apply(
        _user(), {"op": "replace", "path": f'{attribute}[type eq "{kind}"].value', "value": "v@x.y"}
    )
    assert done[attribute] == [{"value": "v@x.y", "type": kind}]


@pytest.mark.parametrize(
    "path",
    [
        'emails[type eq "personal"].value',
        'emails[value eq "a@b.c"].type',
        'emails[type ne "work"].value',
        'addresses[type eq "work" and primary eq true].locality',
    ],
)
def test_any_other_unmatched_filter_is_no_target_with_the_rule(path: str) -> None:
    with pytest.raises(NoTargetException) as refused:
        _apply(_user(), {"op": "replace", "path": path, "value": "work"})
    assert refused.value.scim_type == "noTarget"
    assert str(refused.value.detail).endswith(NO_TARGET_HINT)


def test_a_filter_that_matches_applies_whatever_its_form() -> None:
    user = _user(emails=[{"value": "a@b.c", "type": "home"}])
    done = _apply(user, {"op": "replace", "path": 'emails[value eq "a@b.c"].type', "value": "work"})
    assert done["emails"] == [{"value": "a@b.c", "type": "work"}]


def test_a_creating_operation_does_not_let_a_later_one_create() -> None:
    with pytest.raises(NoTargetException):
        _apply(
            _user(),
            {"op": "add", "path": 'addresses[type eq "work"].locality', "value": "Paris"},
            {"op": "replace", "path": 'emails[value eq "x@y.z"].primary', "value": True},
        )


def test_entras_removal_by_value_removes_only_the_values_named() -> None:
    user = _user(emails=[{"value": "a@b.c"}, {"value": "d@e.f"}])
    done = _apply(user, {"op": "Remove", "path": "emails", "value": [{"value": "a@b.c"}]})
    assert done["emails"] == [{"value": "d@e.f"}]


@pytest.mark.parametrize(("sent", "active"), [("False", False), ("True", True), (False, False)])
def test_entras_string_booleans_are_booleans(sent: Any, active: bool) -> None:
    done = _apply(_user(active=not active), {"op": "Replace", "path": "active", "value": sent})
    assert done["active"] is active


@pytest.mark.parametrize(
    ("operation", "attribute"),
    [
        ({"op": "replace", "path": "active", "value": "maybe"}, "active"),
        ({"op": "replace", "path": "userName", "value": [1, 2]}, "userName"),
        ({"op": "replace", "value": {"userName": {"a": 1}}}, "userName"),
        ({"op": "replace", "path": "name.givenName", "value": {"a": 1}}, "givenName"),
    ],
)
def test_a_value_that_does_not_fit_is_invalid_value_named_as_scim_names_it(
    operation: dict[str, Any], attribute: str
) -> None:
    user = _user()
    with pytest.raises(InvalidValueException) as refused:
        apply_patch(
            PatchOp[UserResource](operations=[PatchOperation[UserResource](**operation)]), user
        )
    detail = str(refused.value.detail)
    assert detail.startswith("Invalid PATCH value: ")
    assert attribute in detail
    assert "_" not in detail.split(": ", 1)[1]


def test_a_patch_of_the_managers_id_points_its_reference_at_the_new_manager() -> None:
    user = _user(**{ENTERPRISE_SCHEMA: {"manager": COMPLETE}})
    _apply(user, {"op": "replace", "path": f"{ENTERPRISE_SCHEMA}:manager.value", "value": OTHER})
    assert user[EnterpriseUser].manager.ref == f"{USERS_URL}/{BOSS}"

    settle_manager(user, USERS_URL)

    manager = user[EnterpriseUser].manager
    assert (manager.value, manager.ref) == (OTHER, f"{USERS_URL}/{OTHER}")


def test_entras_manager_patch_stores_a_complete_manager() -> None:
    user = _user()
    _apply(user, {"op": "Add", "path": f"{ENTERPRISE_SCHEMA}:manager", "value": BOSS})
    settle_manager(user, USERS_URL)
    manager = user[EnterpriseUser].manager
    assert (manager.value, manager.ref) == (BOSS, f"{USERS_URL}/{BOSS}")


def test_a_reference_already_at_the_manager_is_kept() -> None:
    elsewhere = f"https://elsewhere.example/Users/{BOSS}"
    user = _user(**{ENTERPRISE_SCHEMA: {"manager": {"value": BOSS, "$ref": elsewhere}}})
    settle_manager(user, USERS_URL)
    assert user[EnterpriseUser].manager.ref == elsewhere


@pytest.mark.parametrize(
    "user",
    [
        pytest.param(_user(), id="no-extension-value"),
        pytest.param(_user(**{ENTERPRISE_SCHEMA: {"department": "Sales"}}), id="no-manager"),
        pytest.param(User.model_validate({"userName": "ann"}), id="model-without-extension"),
    ],
)
def test_a_user_without_a_manager_is_left_as_it_is(user: Any) -> None:
    before = user.model_dump()
    settle_manager(user, USERS_URL)
    assert user.model_dump() == before
