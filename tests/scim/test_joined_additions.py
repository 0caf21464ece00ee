"""Member additions in a row are applied as one: the same members, each once, as first listed."""

from scim2_models import Group, PatchOp, PatchOperation

from scimgate.scim.group_patch import (
    ListedMember,
    MemberAction,
    MemberChange,
    joined_additions,
)


def _add(*members: ListedMember) -> MemberChange:
    return MemberChange(MemberAction.add, members)


def test_additions_in_a_row_become_one_with_each_member_once_as_first_listed() -> None:
    ann, bob = ListedMember("a", "Ann"), ListedMember("b", "Bob")
    joined = joined_additions([_add(ann), _add(bob), _add(ListedMember("a", "Ann again"))])
    assert joined == [_add(ann, bob)]


def test_any_other_step_ends_a_run_and_keeps_its_place() -> None:
    removal = MemberChange(MemberAction.remove, member_ids=("a",))
    rename = PatchOp[Group](
        operations=[PatchOperation[Group](op="replace", path="displayName", value="Sales")]
    )
    a, b, c = ListedMember("a"), ListedMember("b"), ListedMember("c")
    steps = [_add(a), _add(b), removal, _add(a), rename, _add(c), _add()]
    assert joined_additions(steps) == [_add(a, b), removal, _add(a), rename, _add(c)]


def test_an_empty_addition_alone_adds_nothing() -> None:
    assert joined_additions([_add()]) == []
