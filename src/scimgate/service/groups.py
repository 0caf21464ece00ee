"""Use cases on groups: create, read, replace, patch (attributes and membership rows), delete."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from scim2_models import (
    Group,
    GroupMember,
    InvalidValueException,
    PatchOp,
    ScimFilter,
)
from sqlalchemy import Connection

from scimgate.events.diff import previous_attributes
from scimgate.events.models import EventType
from scimgate.scim.etag import check_if_match
from scimgate.scim.group_patch import (
    ListedMember,
    MemberAction,
    MemberChange,
    listed_members,
    split_group_patch,
)
from scimgate.scim.tolerance import apply_patch
from scimgate.service import changes, confirmations, roles
from scimgate.service.changes import changing
from scimgate.service.representation import document, group_resource
from scimgate.service.scope import Scope
from scimgate.store import memberships
from scimgate.store.ids import new_id, utcnow
from scimgate.store.resources import GROUPS, USERS, StoredResource
from scimgate.store.transactions import reading


def create_group(scope: Scope, group: Group) -> Group:
    """Create a group with its initial members, who must exist in the directory."""
    doc = document(group)
    stored = StoredResource.new(new_id(), doc, utcnow())
    listed = listed_members(group.members or [])
    with changing(scope.engine) as conn:
        GROUPS.insert(conn, scope.directory_id, stored)
        changes.group_changed(conn, scope.directory_id, EventType.group_created, stored.id)
        _add_members(conn, scope, stored.id, listed)
        members = memberships.members_of(conn, scope.directory_id, stored.id)
    return group_resource(scope, stored, members)


def get_group(scope: Scope, group_id: str, *, with_members: bool) -> Group:
    """Read a group; members are only read when the response will carry them."""
    with reading(scope.engine) as conn:
        stored = GROUPS.existing(conn, scope.directory_id, group_id, for_update=False)
        members = (
            memberships.members_of(conn, scope.directory_id, group_id) if with_members else None
        )
    confirmations.confirm_seen(scope, GROUPS, [stored])
    return group_resource(scope, stored, members)


def replace_group(scope: Scope, group_id: str, replacement: Group, if_match: str | None) -> Group:
    """Replace a group (PUT), its member list included."""
    with changing(scope.engine) as conn:
        stored = GROUPS.existing(conn, scope.directory_id, group_id, for_update=True)
        check_if_match(if_match, stored.version)
        current = group_resource(scope, stored, None)
        wanted_members = listed_members(replacement.members or [])
        replacement.members = None
        replacement.replace(current)
        membership_changed = _replace_members(conn, scope, group_id, wanted_members)
        stored = _save(conn, scope, stored, document(replacement), membership_changed)
        confirmations.confirm_in(conn, scope, GROUPS, [stored])
        members = memberships.members_of(conn, scope.directory_id, group_id)
    return group_resource(scope, stored, members)


def patch_group(
    scope: Scope, group_id: str, patch: PatchOp[Group], if_match: str | None, *, respond: bool
) -> Group | None:
    """Apply a group PATCH atomically; returns the group only when ``respond`` asks for it.

    A membership change writes rows for the members it names and nothing else,
    so it costs the same for a group of ten as for a group of a hundred thousand.
    """
    with changing(scope.engine) as conn:
        stored = GROUPS.existing(conn, scope.directory_id, group_id, for_update=True)
        check_if_match(if_match, stored.version)
        group = group_resource(scope, stored, None)
        membership_changed = False
        for step in split_group_patch(patch):
            if isinstance(step, MemberChange):
                membership_changed |= _apply_member_change(conn, scope, group_id, step)
            else:
                apply_patch(step, group)
        stored = _save(conn, scope, stored, document(group), membership_changed)
        confirmations.confirm_in(conn, scope, GROUPS, [stored])
        if not respond:
            return None
        members = memberships.members_of(conn, scope.directory_id, group_id)
    return group_resource(scope, stored, members)


def delete_group(scope: Scope, group_id: str, if_match: str | None) -> None:
    """Delete a group: one ``group.deleted`` event, not one per member it had.

    Its members' roles are recomputed; if it was the directory's assignment
    group, its active members are deprovisioned.
    """
    with changing(scope.engine) as conn:
        stored = GROUPS.existing(conn, scope.directory_id, group_id, for_update=True)
        check_if_match(if_match, stored.version)
        changes.group_changed(conn, scope.directory_id, EventType.group_deleted, group_id)
        former = _user_members(conn, scope, group_id)
        memberships.remove_all(conn, scope.directory_id, group_id)
        now = utcnow()
        for parent_id in memberships.remove_member_everywhere(conn, scope.directory_id, group_id):
            GROUPS.touch(conn, scope.directory_id, parent_id, now)
        GROUPS.delete(conn, scope.directory_id, group_id)
        changes.assignment_changed(conn, scope.directory_id, group_id, former, joined=False)
        roles.recompute(conn, scope.directory_id, former)


def _save(
    conn: Connection,
    scope: Scope,
    stored: StoredResource,
    doc: dict[str, Any],
    membership_changed: bool,
) -> StoredResource:
    """Store the group's new state; its version moves when its document or its members changed."""
    if doc == stored.doc and not membership_changed:
        return stored
    updated = stored.evolved(doc, utcnow())
    GROUPS.replace(conn, scope.directory_id, updated)
    if doc != stored.doc:
        changes.group_changed(
            conn,
            scope.directory_id,
            EventType.group_updated,
            stored.id,
            previous_attributes(stored.doc, doc),
        )
    if any(doc.get(key) != stored.doc.get(key) for key in ROLE_KEYS):
        roles.recompute(conn, scope.directory_id, _user_members(conn, scope, stored.id))
    return updated


ROLE_KEYS = ("displayName", "externalId")
"""What role rules match a group by: renaming it can change its members' roles."""


def _user_members(conn: Connection, scope: Scope, group_id: str) -> list[str]:
    members = memberships.members_of(conn, scope.directory_id, group_id)
    return [member.id for member in members if member.type == "User"]


def _apply_member_change(
    conn: Connection, scope: Scope, group_id: str, change: MemberChange
) -> bool:
    if change.action == MemberAction.add:
        return _add_members(conn, scope, group_id, change.members) > 0
    if change.action == MemberAction.replace:
        return _replace_members(conn, scope, group_id, change.members)
    if change.action == MemberAction.remove_all:
        ids = tuple(m.id for m in memberships.members_of(conn, scope.directory_id, group_id))
    elif change.selection is not None:
        ids = _members_matching(conn, scope, group_id, change.selection)
    else:
        ids = change.member_ids
    return _remove_members(conn, scope, group_id, ids) > 0


def _add_members(
    conn: Connection, scope: Scope, group_id: str, listed: Sequence[ListedMember]
) -> int:
    """Add members; each must be a user or another group of this directory."""
    if not listed:
        return 0
    ids = [member.id for member in listed]
    user_ids = USERS.existing_ids(conn, scope.directory_id, ids)
    group_ids = GROUPS.existing_ids(conn, scope.directory_id, ids)
    unknown = [member_id for member_id in ids if member_id not in user_ids | group_ids]
    if unknown:
        raise InvalidValueException(
            detail=f"members: no user or group with id {unknown[0]} in this directory"
            + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else "")
        )
    if group_id in group_ids:
        raise InvalidValueException(detail="members: a group cannot be a member of itself")
    already = memberships.member_ids(conn, scope.directory_id, group_id, ids)
    new = [
        memberships.NewMember(
            member.id, "User" if member.id in user_ids else "Group", member.display
        )
        for member in listed
        if member.id not in already
    ]
    memberships.add(conn, scope.directory_id, group_id, new)
    for member in new:
        changes.membership_changed(
            conn, scope.directory_id, group_id, member.id, member.type, added=True
        )
    new_users = [m.id for m in new if m.type == "User"]
    changes.assignment_changed(conn, scope.directory_id, group_id, new_users, joined=True)
    roles.recompute(conn, scope.directory_id, new_users)
    return len(new)


def _remove_members(conn: Connection, scope: Scope, group_id: str, ids: Sequence[str]) -> int:
    present = sorted(memberships.member_ids(conn, scope.directory_id, group_id, ids))
    users_left = USERS.existing_ids(conn, scope.directory_id, present)
    memberships.remove(conn, scope.directory_id, group_id, present)
    for member_id in present:
        member_type = "User" if member_id in users_left else "Group"
        changes.membership_changed(
            conn, scope.directory_id, group_id, member_id, member_type, added=False
        )
    changes.assignment_changed(conn, scope.directory_id, group_id, sorted(users_left), joined=False)
    roles.recompute(conn, scope.directory_id, sorted(users_left))
    return len(present)


def _replace_members(
    conn: Connection, scope: Scope, group_id: str, listed: Sequence[ListedMember]
) -> bool:
    current = {m.id for m in memberships.members_of(conn, scope.directory_id, group_id)}
    wanted = {member.id for member in listed}
    removed = _remove_members(conn, scope, group_id, sorted(current - wanted))
    added = _add_members(conn, scope, group_id, [m for m in listed if m.id not in current])
    return removed + added > 0


def _members_matching(
    conn: Connection, scope: Scope, group_id: str, selection: Any
) -> tuple[str, ...]:
    """Members selected by a filter other than ``value eq``: evaluated on the member rows."""
    member_filter = cast(Any, ScimFilter)[GroupMember](selection)
    return tuple(
        member.id
        for member in memberships.members_of(conn, scope.directory_id, group_id)
        if member_filter.match(
            GroupMember(value=member.id, type=member.type, display=member.display)
        )
    )
