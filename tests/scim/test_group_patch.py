"""A group PATCH split into membership row changes and attribute changes (``scim.group_patch``).

Member operations become row changes (add, remove by id or by filter, remove
all, replace all); every other operation stays a PatchOp for the models, and the
steps keep the request's order. The shapes are the ones identity providers
send: Entra's ``Add``/``Remove`` with a ``value`` list, Okta's
``members[value eq "id"]`` removal and full ``replace``.
"""

import json
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scim2_models import (
    Group,
    InvalidPathException,
    InvalidValueException,
    MutabilityException,
    PatchOp,
    PatchOperation,
    SCIMException,
)
from scim2_models.path import CompareOperator, Comparison, LogicalExpr, Not

from property_support import property_settings
from scim_payloads import GROUP_SCHEMA, patch
from scimgate.scim.group_patch import (
    GroupPatchStep,
    ListedMember,
    MemberAction,
    MemberChange,
    joined_additions,
    listed_members,
    split_group_patch,
)
from scimgate.scim.requests import decode_json, read_patch
from scimgate.scim.resources import GroupResource

USERS_URL = "https://scim.example.com/scim/v2/d1/Users"
ANN = "0190f2c4-6c1e-7d3a-9b1e-3f0c2a7d5e11"
BEN = "0190f2c4-6c1e-7d3a-9b1e-3f0c2a7d5e12"


def _patch(*operations: dict[str, Any]) -> PatchOp[Group]:
    return PatchOp[Group](operations=[PatchOperation[Group](**op) for op in operations])


def _split(*operations: dict[str, Any]) -> list[GroupPatchStep]:
    return split_group_patch(_patch(*operations))


def _requested(body: dict[str, Any]) -> list[GroupPatchStep]:
    """The steps of a body as a request reads it (key spellings, IdP tolerances, validation)."""
    return split_group_patch(read_patch(GroupResource, decode_json(json.dumps(body)), USERS_URL))


def _operations(step: GroupPatchStep) -> list[tuple[str, str | None, Any]]:
    assert isinstance(step, PatchOp), step
    return [(str(op.op.value), op.path and str(op.path), op.value) for op in step.operations or []]


# Additions and replacements


@pytest.mark.parametrize("op", ["add", "Add", "ADD"])
def test_an_addition_lists_its_members_with_their_names(op: str) -> None:
    steps = _split(
        {"op": op, "path": "members", "value": [{"value": ANN, "display": "Ann"}, {"value": BEN}]}
    )
    assert steps == [
        MemberChange(MemberAction.add, (ListedMember(ANN, "Ann"), ListedMember(BEN, None)))
    ]


def test_entras_addition_with_a_null_reference_is_an_addition() -> None:
    """Entra: ``{"op":"Add","path":"members","value":[{"$ref":null,"value":"<id>"}]}``."""
    steps = _requested(
        patch({"op": "Add", "path": "members", "value": [{"$ref": None, "value": ANN}]})
    )
    assert steps == [MemberChange(MemberAction.add, (ListedMember(ANN),))]


def test_one_member_object_is_taken_as_a_list_of_one() -> None:
    steps = _split({"op": "add", "path": "members", "value": {"value": ANN, "display": "Ann"}})
    assert steps == [MemberChange(MemberAction.add, (ListedMember(ANN, "Ann"),))]


@pytest.mark.parametrize("path", ["Members", f"{GROUP_SCHEMA}:members"])
def test_other_spellings_of_the_members_path_name_the_members(path: str) -> None:
    steps = _split({"op": "add", "path": path, "value": [{"value": ANN}]})
    assert steps == [MemberChange(MemberAction.add, (ListedMember(ANN),))]


def test_a_replacement_lists_the_members_the_group_will_have() -> None:
    steps = _split({"op": "replace", "path": "members", "value": [{"value": BEN}, {"value": ANN}]})
    assert steps == [
        MemberChange(MemberAction.replace, (ListedMember(BEN), ListedMember(ANN))),
    ]


def test_a_replacement_with_no_members_empties_the_group() -> None:
    """Not a no-op: ``replace`` with ``[]`` is how a full push removes the last members."""
    assert _split({"op": "replace", "path": "members", "value": []}) == [
        MemberChange(MemberAction.replace, ())
    ]


def test_a_member_listed_twice_is_listed_once_where_it_first_appears() -> None:
    steps = _split(
        {
            "op": "add",
            "path": "members",
            "value": [{"value": ANN}, {"value": BEN}, {"value": ANN}],
        }
    )
    assert steps == [MemberChange(MemberAction.add, (ListedMember(ANN), ListedMember(BEN)))]


# Removals


def test_a_removal_without_value_removes_every_member() -> None:
    """Microsoft's reference tests: ``Remove`` on ``members`` without a value empties the group."""
    assert _split({"op": "remove", "path": "members"}) == [MemberChange(MemberAction.remove_all)]


def test_entras_removal_names_the_members_in_its_value() -> None:
    steps = _requested(
        patch({"op": "Remove", "path": "members", "value": [{"value": ANN}, {"value": BEN}]})
    )
    assert steps == [MemberChange(MemberAction.remove, member_ids=(ANN, BEN))]


def test_a_removal_with_an_empty_value_list_removes_nobody() -> None:
    """An empty list names no member: it must never be read as "remove everyone"."""
    steps = _split({"op": "remove", "path": "members", "value": []})
    assert steps == [MemberChange(MemberAction.remove, member_ids=())]
    assert steps[0] != MemberChange(MemberAction.remove_all)


def test_oktas_removal_by_filter_names_the_member_by_id() -> None:
    steps = _requested(patch({"op": "remove", "path": f'members[value eq "{ANN}"]'}))
    assert steps == [MemberChange(MemberAction.remove, member_ids=(ANN,))]


@pytest.mark.parametrize(
    "path",
    [
        f'members[value eq "{ANN}" or value eq "{BEN}"]',
        f'members[(value eq "{ANN}") or (value eq "{BEN}" or value eq "{ANN}")]',
        f'members[VALUE eq "{ANN}" or Value eq "{BEN}"]',
    ],
)
def test_ids_joined_by_or_are_removed_by_id_each_once(path: str) -> None:
    assert _split({"op": "remove", "path": path}) == [
        MemberChange(MemberAction.remove, member_ids=(ANN, BEN))
    ]


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ('members[display eq "Ann"]', Comparison),
        ('members[value sw "0190"]', Comparison),
        ("members[value eq 42]", Comparison),
        ('members[value.x eq "a"]', Comparison),
        (f'members[value eq "{ANN}" and display eq "Ann"]', LogicalExpr),
        (f'members[value eq "{ANN}" or display eq "Ben"]', LogicalExpr),
        (f'members[not (value eq "{ANN}")]', Not),
    ],
)
def test_any_other_selection_is_kept_as_a_filter_over_the_member_rows(
    path: str, kind: type
) -> None:
    [step] = _split({"op": "remove", "path": path})
    assert isinstance(step, MemberChange)
    assert step.action == MemberAction.remove
    assert step.member_ids == ()
    assert isinstance(step.selection, kind)


def test_a_filter_keeps_the_comparison_it_selects_with() -> None:
    [step] = _split({"op": "remove", "path": 'members[display eq "Ann"]'})
    assert isinstance(step, MemberChange)
    selection = step.selection
    assert isinstance(selection, Comparison)
    assert (selection.attr_path.attr, selection.op, selection.value) == (
        "display",
        CompareOperator.eq,
        "Ann",
    )


# Refusals


def test_adding_to_a_filtered_members_path_is_refused_with_the_way_to_add() -> None:
    with pytest.raises(InvalidPathException) as refused:
        _split({"op": "add", "path": f'members[value eq "{ANN}"]', "value": [{"value": ANN}]})
    assert refused.value.status == 400
    assert refused.value.scim_type == "invalidPath"
    assert f'members[value eq "{ANN}"]' in str(refused.value.detail)
    assert "can only be removed" in str(refused.value.detail)


@pytest.mark.parametrize(
    ("op", "path"),
    [
        ("replace", 'members[value eq "x"].display'),
        ("replace", "members.display"),
        ("add", "members.value"),
        ("remove", 'members[value eq "x"].value'),
    ],
)
def test_a_member_sub_attribute_is_immutable(op: str, path: str) -> None:
    value = None if op == "remove" else "x"
    with pytest.raises(MutabilityException) as refused:
        _split({"op": op, "path": path, "value": value})
    assert refused.value.scim_type == "mutability"
    assert path in str(refused.value.detail)
    assert "immutable" in str(refused.value.detail)


@pytest.mark.parametrize(
    "value",
    ["abc", 42, [ANN], [None], [{"value": 5}], [{"value": ANN, "unknown": 1}], None],
)
def test_members_that_are_not_member_objects_are_refused(value: Any) -> None:
    with pytest.raises(InvalidValueException) as refused:
        _split({"op": "add", "path": "members", "value": value})
    assert refused.value.scim_type == "invalidValue"
    assert '{"value": "<user or group id>"}' in str(refused.value.detail)


@pytest.mark.parametrize(
    ("value", "index"),
    [
        ([{"display": "Ann"}], 0),
        ([{"value": ANN}, {"display": "Ben"}], 1),
        ([{"value": ANN}, {"value": ""}, {"value": ""}], 1),
    ],
)
def test_a_member_without_an_id_is_refused_by_its_position(value: Any, index: int) -> None:
    with pytest.raises(InvalidValueException) as refused:
        _split({"op": "add", "path": "members", "value": value})
    assert str(refused.value.detail).startswith(f"members[{index}] has no 'value'")


def test_a_refused_operation_refuses_the_whole_patch() -> None:
    """No step comes back for the operations before it: nothing applies."""
    with pytest.raises(SCIMException):
        _split(
            {"op": "replace", "path": "displayName", "value": "Sales"},
            {"op": "add", "path": "members", "value": [{"value": ANN}]},
            {"op": "add", "path": "members", "value": [{"display": "nobody"}]},
        )


# Members beside other attributes, and the order of steps


def test_a_no_path_value_is_split_into_its_attributes_then_its_members() -> None:
    [attributes, members] = _split(
        {"op": "add", "value": {"displayName": "Sales", "members": [{"value": ANN}]}}
    )
    assert _operations(attributes) == [("add", None, {"displayName": "Sales"})]
    assert members == MemberChange(MemberAction.add, (ListedMember(ANN),))


def test_a_no_path_replace_of_members_replaces_them() -> None:
    assert _split({"op": "replace", "value": {"members": [{"value": BEN}]}}) == [
        MemberChange(MemberAction.replace, (ListedMember(BEN),))
    ]


def test_a_no_path_value_in_another_spelling_is_split_once_read() -> None:
    """Key spellings (``Members``, the core URN) are made canonical before the split."""
    steps = _requested(
        patch(
            {
                "op": "Replace",
                "value": {"DisplayName": "Sales", f"{GROUP_SCHEMA}:Members": [{"value": ANN}]},
            }
        )
    )
    assert _operations(steps[0]) == [("replace", None, {"displayName": "Sales"})]
    assert steps[1:] == [MemberChange(MemberAction.replace, (ListedMember(ANN),))]


def test_a_no_path_replace_with_null_members_empties_the_group() -> None:
    """Null, unassigned and ``[]`` are one state (RFC 7643 §2.5); other attributes take null."""
    steps = _requested(patch({"op": "replace", "value": {"members": None}}))
    assert steps == [MemberChange(MemberAction.replace, ())]


def test_replacing_the_members_path_with_null_empties_the_group() -> None:
    steps = _requested(patch({"op": "replace", "path": "members", "value": None}))
    assert steps == [MemberChange(MemberAction.replace, ())]


def test_adding_null_members_is_refused() -> None:
    with pytest.raises(InvalidValueException, match="value is required for add"):
        _requested(patch({"op": "add", "path": "members", "value": None}))


def test_oktas_rename_with_its_id_stays_an_attribute_change() -> None:
    """Okta sends ``{"op":"replace","value":{"id":..,"displayName":..}}`` on every push."""
    [step] = _split({"op": "replace", "value": {"id": "g1", "displayName": "Sales"}})
    assert _operations(step) == [("replace", None, {"id": "g1", "displayName": "Sales"})]


def test_attribute_operations_between_member_changes_keep_their_place() -> None:
    steps = _split(
        {"op": "replace", "path": "displayName", "value": "A"},
        {"op": "add", "path": "externalId", "value": "e1"},
        {"op": "remove", "path": f'members[value eq "{ANN}"]'},
        {"op": "add", "path": "members", "value": [{"value": BEN, "display": "Ben"}]},
        {"op": "replace", "path": "displayName", "value": "B"},
    )
    assert len(steps) == 4
    assert _operations(steps[0]) == [
        ("replace", "displayName", "A"),
        ("add", "externalId", "e1"),
    ]
    assert steps[1] == MemberChange(MemberAction.remove, member_ids=(ANN,))
    assert steps[2] == MemberChange(MemberAction.add, (ListedMember(BEN, "Ben"),))
    assert _operations(steps[3]) == [("replace", "displayName", "B")]


def test_a_patch_without_member_operations_is_one_step_of_the_same_kind() -> None:
    [step] = _split({"op": "replace", "path": "displayName", "value": "Sales"})
    assert type(step) is PatchOp[Group]


def test_a_patch_without_operations_has_no_steps() -> None:
    assert split_group_patch(PatchOp[Group](operations=None)) == []


_MEMBER_OPS = {
    "add": {"op": "add", "path": "members", "value": [{"value": ANN}]},
    "remove": {"op": "remove", "path": f'members[value eq "{BEN}"]'},
    "remove_all": {"op": "remove", "path": "members"},
    "replace": {"op": "replace", "path": "members", "value": []},
}
_ATTRIBUTE_OPS = {
    "rename": {"op": "replace", "path": "displayName", "value": "Sales"},
    "external": {"op": "add", "path": "externalId", "value": "e1"},
}


@given(
    st.lists(st.sampled_from(sorted(_MEMBER_OPS) + sorted(_ATTRIBUTE_OPS)), min_size=1, max_size=8)
)
@property_settings(60)
def test_steps_are_the_operations_in_order_with_attribute_runs_joined(names: list[str]) -> None:
    operations = [_MEMBER_OPS.get(name) or _ATTRIBUTE_OPS[name] for name in names]
    steps = split_group_patch(_patch(*operations))

    # Two PatchOps never follow each other: a run of attribute operations is one step.
    kinds = [isinstance(step, PatchOp) for step in steps]
    assert not any(a and b for a, b in pairwise(kinds))
    # Reading the steps back gives the request's operations, in its order.
    replayed: list[str] = []
    for step in steps:
        if isinstance(step, MemberChange):
            replayed.append(step.action.value)
        else:
            replayed.extend(
                "rename" if str(op.path) == "displayName" else "external"
                for op in step.operations or []
            )
    assert replayed == names


# listed_members on its own


def test_listed_members_keeps_the_first_position_of_each_id() -> None:
    listed = listed_members(
        [{"value": BEN}, {"value": ANN, "display": "Ann"}, {"value": BEN}, {"value": "c"}]
    )
    assert [member.id for member in listed] == [BEN, ANN, "c"]
    assert listed[1] == ListedMember(ANN, "Ann")


def test_listed_members_of_nothing_is_nobody() -> None:
    assert listed_members([]) == ()


# joined_additions


def _add(*members: ListedMember) -> MemberChange:
    return MemberChange(MemberAction.add, members)


def test_entras_one_addition_per_operation_becomes_one_addition() -> None:
    """Entra sends one ``Add`` per member, ten to a request."""
    ids = [f"u{n}" for n in range(10)]
    steps = _split(*({"op": "Add", "path": "members", "value": [{"value": i}]} for i in ids))
    assert len(steps) == 10
    assert joined_additions(steps) == [_add(*(ListedMember(i) for i in ids))]


def test_a_run_keeps_the_name_a_member_was_first_listed_with() -> None:
    joined = joined_additions([_add(ListedMember("a")), _add(ListedMember("a", "Ann"))])
    assert joined == [_add(ListedMember("a"))]


def test_steps_without_additions_are_left_as_they_are() -> None:
    steps: list[GroupPatchStep] = [
        MemberChange(MemberAction.remove_all),
        MemberChange(MemberAction.replace, (ListedMember("a"),)),
        MemberChange(MemberAction.remove, member_ids=("a",)),
    ]
    assert joined_additions(steps) == steps
    assert joined_additions([]) == []


_IDS = st.sampled_from(["a", "b", "c", "d"])
_LISTED = st.builds(ListedMember, _IDS, st.sampled_from([None, "One", "Two"]))
_STEPS = st.one_of(
    st.builds(lambda ms: _add(*ms), st.lists(_LISTED, max_size=3)),
    st.builds(
        lambda ids: MemberChange(MemberAction.remove, member_ids=tuple(ids)),
        st.lists(_IDS, max_size=2),
    ),
    st.just(MemberChange(MemberAction.remove_all)),
    st.builds(
        lambda ms: MemberChange(MemberAction.replace, tuple({m.id: m for m in ms}.values())),
        st.lists(_LISTED, max_size=3),
    ),
    st.just(_patch({"op": "replace", "path": "displayName", "value": "Sales"})),
)


def _is_addition(step: GroupPatchStep) -> bool:
    return isinstance(step, MemberChange) and step.action == MemberAction.add


def _membership(steps: list[GroupPatchStep]) -> dict[str, str | None]:
    """The members and their names after the steps, as the rows would hold them.

    Adding a member already there leaves it as it is (IdPs repeat additions).
    """
    rows: dict[str, str | None] = {}
    for step in steps:
        if not isinstance(step, MemberChange):
            continue
        if step.action == MemberAction.add:
            for member in step.members:
                rows.setdefault(member.id, member.display)
        elif step.action == MemberAction.remove:
            for member_id in step.member_ids:
                rows.pop(member_id, None)
        elif step.action == MemberAction.remove_all:
            rows = {}
        else:
            rows = {}
            for member in step.members:
                rows.setdefault(member.id, member.display)
    return rows


@given(st.lists(_STEPS, max_size=8))
@property_settings(100)
def test_joined_additions_leave_the_same_members_with_fewer_steps(
    steps: list[GroupPatchStep],
) -> None:
    joined = joined_additions(steps)

    assert len(joined) <= len(steps)
    assert _membership(joined) == _membership(steps)
    adds = [_is_addition(s) for s in joined]
    assert not any(a and b for a, b in pairwise(adds))
    assert [s for s in joined if not _is_addition(s)] == [s for s in steps if not _is_addition(s)]
    for step, is_add in zip(joined, adds, strict=True):
        if is_add:
            assert isinstance(step, MemberChange)
            assert step.members
            assert len({m.id for m in step.members}) == len(step.members)
