"""Splitting a group PATCH into membership changes and attribute changes.

Members are rows, not a list inside the group, so operations on ``members``
are turned into row changes (add these ids, remove those, replace them all)
and never into a rewrite of a member list. Every other operation is left to
the PATCH engine of scim2-models, applied to the group without its members.
Steps keep the order of the request's operations.
"""

from collections.abc import Iterator, Sequence
from enum import Enum
from typing import Any

from pydantic import TypeAdapter, ValidationError
from scim2_models import (
    Group,
    GroupMember,
    InvalidPathException,
    InvalidValueException,
    MutabilityException,
    PatchOp,
    PatchOperation,
)
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    LogicalExpr,
    LogicalOperator,
    ValuePath,
)

from scimgate.records import frozen

MEMBERS = "members"
_MEMBER_LIST = TypeAdapter(list[GroupMember])


class MemberAction(Enum):
    add = "add"
    remove = "remove"
    remove_all = "remove_all"
    replace = "replace"


@frozen
class ListedMember:
    """A member as a request lists it: an id, and the name the client shows for it."""

    id: str
    display: str | None = None


@frozen
class MemberChange:
    """A change to the membership rows of one group.

    ``add`` and ``replace`` list the members. ``remove`` names them by id, or
    by a filter over member sub-attributes when the request selected them some
    other way. ``remove_all`` empties the group.
    """

    action: MemberAction
    members: tuple[ListedMember, ...] = ()
    member_ids: tuple[str, ...] = ()
    selection: FilterNode | None = None


GroupPatchStep = MemberChange | PatchOp[Group]


def split_group_patch(patch: PatchOp[Group]) -> list[GroupPatchStep]:
    """The steps a group PATCH stands for, in the order they apply."""
    steps: list[GroupPatchStep] = []
    pending: list[PatchOperation[Group]] = []
    for operation in patch.operations or []:
        for step in _steps(operation):
            if isinstance(step, PatchOperation):
                pending.append(step)
                continue
            if pending:
                steps.append(type(patch)(operations=pending))
                pending = []
            steps.append(step)
    if pending:
        steps.append(type(patch)(operations=pending))
    return steps


def joined_additions(steps: Sequence[GroupPatchStep]) -> list[GroupPatchStep]:
    """The steps with each run of member additions in a row made one addition.

    Microsoft Entra ID sends one operation per member, ten to a request; added
    together, they take one round of reads and writes instead of ten. The result
    is the same: the members each run adds, each once, with the name it was
    first listed with (a member listed again in the same run was already added).
    """
    joined: list[GroupPatchStep] = []
    run: dict[str, ListedMember] = {}
    for step in steps:
        if isinstance(step, MemberChange) and step.action == MemberAction.add:
            for member in step.members:
                run.setdefault(member.id, member)
            continue
        if run:
            joined.append(MemberChange(MemberAction.add, tuple(run.values())))
            run = {}
        joined.append(step)
    if run:
        joined.append(MemberChange(MemberAction.add, tuple(run.values())))
    return joined


def _steps(operation: PatchOperation[Group]) -> Iterator[MemberChange | PatchOperation[Group]]:
    if operation.path is None:
        yield from _no_path_steps(operation)
        return
    node = operation.path.ast
    if not _names_members(node):
        yield operation
        return
    yield _member_path_step(operation, node)


def _no_path_steps(
    operation: PatchOperation[Group],
) -> Iterator[MemberChange | PatchOperation[Group]]:
    """A no-path ``add``/``replace`` whose value object may carry ``members`` among other keys.

    The value's keys are canonical (``scim.attribute_names``): ``Members``,
    ``urn:…:core:2.0:Group:members`` and the core schema's object all arrive as ``members``.
    """
    value = operation.value
    if not isinstance(value, dict):
        yield operation
        return
    rest = {key: item for key, item in value.items() if key != MEMBERS}
    if rest:
        yield type(operation)(op=operation.op, value=rest)
    if MEMBERS in value:
        action = (
            MemberAction.replace if operation.op == PatchOperation.Op.replace_ else MemberAction.add
        )
        yield MemberChange(action, _listed_for(action, value[MEMBERS]))


def _names_members(node: Any) -> bool:
    attr_path = node.attr_path if isinstance(node, ValuePath | Comparison) else node
    return isinstance(attr_path, AttrPath) and attr_path.attr.lower() == MEMBERS


def _member_path_step(operation: PatchOperation[Group], node: Any) -> MemberChange:
    op = operation.op
    if isinstance(node, AttrPath) and node.sub_attr is None:
        if op == PatchOperation.Op.remove and operation.value is None:
            return MemberChange(MemberAction.remove_all)
        if op == PatchOperation.Op.remove:
            # Microsoft Entra names the members to remove in the value (the policy allows it).
            listed = listed_members(operation.value)
            return MemberChange(MemberAction.remove, member_ids=tuple(m.id for m in listed))
        action = MemberAction.replace if op == PatchOperation.Op.replace_ else MemberAction.add
        return MemberChange(action, _listed_for(action, operation.value))
    if isinstance(node, ValuePath) and node.sub_attr is None and op == PatchOperation.Op.remove:
        ids = _ids_selected(node.val_filter)
        if ids is not None:
            return MemberChange(MemberAction.remove, member_ids=ids)
        return MemberChange(MemberAction.remove, selection=node.val_filter)
    if isinstance(node, ValuePath) and node.sub_attr is None:
        raise InvalidPathException(
            detail=f"'{operation.path}': members are added with path 'members' and a list of "
            '{"value": id}; a filtered members path can only be removed'
        )
    raise MutabilityException(
        detail=f"'{operation.path}': the sub-attributes of a member are immutable; "
        "remove the member and add the one you mean"
    )


def _listed_for(action: MemberAction, value: Any) -> tuple[ListedMember, ...]:
    """The members an ``add`` or ``replace`` lists; replacing them with null empties the group.

    Null and ``[]`` are one state (RFC 7643 §2.5), as a PUT with ``members: null`` shows;
    an ``add`` must name what it adds, so its null stays refused.
    """
    if value is None and action is MemberAction.replace:
        return ()
    return listed_members(value)


def listed_members(value: Any) -> tuple[ListedMember, ...]:
    """The members a ``members`` value lists (one member object is taken as a list of one)."""
    entries = [value] if isinstance(value, dict) else value
    try:
        members = _MEMBER_LIST.validate_python(entries)
    except ValidationError:
        raise InvalidValueException(
            detail='members must be a list of objects like {"value": "<user or group id>"}'
        ) from None
    missing = [index for index, member in enumerate(members) if not member.value]
    if missing:
        raise InvalidValueException(
            detail=f"members[{missing[0]}] has no 'value': each member names a user or group id"
        )
    unique = {member.value: member.display for member in members if member.value}
    return tuple(ListedMember(member_id, display) for member_id, display in unique.items())


def _ids_selected(node: FilterNode) -> tuple[str, ...] | None:
    """The ids a filter selects when it is ``value eq "id"``, or several joined by ``or``.

    That is the form identity providers use; any other selection is evaluated
    against the member rows instead.
    """
    if (
        isinstance(node, Comparison)
        and node.op == CompareOperator.eq
        and node.attr_path.attr.lower() == "value"
        and node.attr_path.sub_attr is None
        and isinstance(node.value, str)
    ):
        return (node.value,)
    if isinstance(node, LogicalExpr) and node.op == LogicalOperator.or_:
        ids: list[str] = []
        for term in node.terms:
            selected = _ids_selected(term)
            if selected is None:
                return None
            ids.extend(selected)
        return tuple(dict.fromkeys(ids))
    return None
