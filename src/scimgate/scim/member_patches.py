"""Group PATCH bodies that only add and remove members, read without the models.

Identity providers keep group membership in step with PATCH requests made of
nothing but member changes: Microsoft Entra ID adds with ``{"op": "Add",
"path": "members", "value": [{"$ref": null, "value": id}]}`` and removes with
the ids in the value; Okta removes with ``members[value eq "id"]``. Such a body
is decoded by msgspec and turned straight into the membership changes
:func:`scimgate.scim.group_patch.split_group_patch` would make of the PatchOp
the models validate. Any other body answers None and takes the models' way
(:func:`scimgate.scim.requests.read_patch`, then ``split_group_patch``): an
operation on another attribute, a path or key spelled otherwise, a member
without an id, an id holding more than letters, digits and ``-._:@``. Property
tests hold both ways to the same changes.
"""

import re

import msgspec

from scimgate.scim.group_patch import ListedMember, MemberAction, MemberChange
from scimgate.scim.patch_envelope import Envelope, operations_of

_PLAIN_ID = re.compile(r"[A-Za-z0-9._:@-]+")
"""Ids that read the same in a filter as in a value: no quote, no escape, no space."""

_SELECTED_BY_ID = re.compile(r'members\[value eq "([A-Za-z0-9._:@-]+)"\]')

_ACTIONS = {"add": MemberAction.add, "replace": MemberAction.replace}


class _Member(msgspec.Struct, forbid_unknown_fields=True, rename={"ref": "$ref"}):
    value: str | None = None
    display: str | None = None
    ref: None = None
    """Only null, as Entra sends it."""


class _Operation(msgspec.Struct, forbid_unknown_fields=True):
    op: str
    path: str
    value: list[_Member] | None = None


_PATCH = msgspec.json.Decoder(Envelope[_Operation])


class _Unusual(Exception):
    """The body is not one this module reads: the models decide."""


def member_changes(body: bytes) -> list[MemberChange] | None:
    """The membership changes a group PATCH of member operations only stands for, else None."""
    operations = operations_of(_PATCH, body)
    if operations is None:
        return None
    try:
        return [_change(operation) for operation in operations]
    except _Unusual:
        return None


def _change(operation: _Operation) -> MemberChange:
    op = operation.op.lower()
    if operation.path == "members":
        if op == "remove":
            if operation.value is None:
                return MemberChange(MemberAction.remove_all)
            ids = tuple(member.id for member in _listed(operation.value))
            return MemberChange(MemberAction.remove, member_ids=ids)
        if op in _ACTIONS and operation.value is not None:
            return MemberChange(_ACTIONS[op], _listed(operation.value))
        raise _Unusual
    selected = _SELECTED_BY_ID.fullmatch(operation.path)
    if selected and op == "remove" and operation.value is None:
        return MemberChange(MemberAction.remove, member_ids=(selected[1],))
    raise _Unusual


def _listed(members: list[_Member]) -> tuple[ListedMember, ...]:
    """The members listed, each once (as :func:`~scimgate.scim.group_patch.listed_members`)."""
    listed: dict[str, str | None] = {}
    for member in members:
        if member.value is None or not _PLAIN_ID.fullmatch(member.value):
            raise _Unusual
        listed[member.value] = member.display
    return tuple(ListedMember(value, display) for value, display in listed.items())
