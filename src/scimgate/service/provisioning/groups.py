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
    TooManyException,
)
from sqlalchemy import Connection

from scimgate.events.diff import previous_attributes
from scimgate.events.models import EventType
from scimgate.scim.documents import ScimDocument
from scimgate.scim.etag import check_if_match
from scimgate.scim.group_patch import (
    GroupPatchStep,
    ListedMember,
    MemberAction,
    MemberChange,
    joined_additions,
    listed_members,
    split_group_patch,
)
from scimgate.scim.tolerance import apply_patch
from scimgate.scim.values import settled_group
from scimgate.service.administration import roles
from scimgate.service.event_stream.changes import MemberMove, UnitOfWork
from scimgate.service.event_stream.payloads import UserFacts, user_facts_of
from scimgate.service.provisioning import confirmations
from scimgate.service.provisioning.existing import existing
from scimgate.service.provisioning.representation import document, group_document, group_resource
from scimgate.service.provisioning.scope import Scope
from scimgate.service.provisioning.scoped_changes import changing_in
from scimgate.store import membership_lists, memberships
from scimgate.store.ids import new_id, utcnow
from scimgate.store.resource_tables import GROUPS, USERS
from scimgate.store.stored_resources import StoredResource
from scimgate.store.transactions import reading


def create_group(scope: Scope, group: Group) -> ScimDocument:
    """Create a group from its model: see :func:`create_group_document`."""
    return create_group_document(scope, document(group), listed_members(group.members or []))


def create_group_document(
    scope: Scope, doc: dict[str, Any], listed: Sequence[ListedMember] = ()
) -> ScimDocument:
    """Create a group from the document to store (what :func:`document` makes of a model)
    and its initial members, who must exist in the directory.

    The row, the ``group.created`` event and the answer are made from ``doc``;
    the members are read back only when there are any.
    """
    stored = StoredResource.new(new_id(), settled_group(doc), utcnow())
    _within_member_limit(scope, len(listed))
    with changing_in(scope) as work:
        conn = work.conn
        GROUPS.insert(conn, scope.directory_id, stored)
        work.group_changed(EventType.group_created, stored.id, stored=stored)
        moves = _add_members(conn, scope, stored.id, listed)
        _announce(work, stored, moves)
        members = membership_lists.members_of(conn, scope.directory_id, stored.id) if moves else []
    return group_document(scope, stored, members)


def get_group(scope: Scope, group_id: str, *, with_members: bool) -> ScimDocument:
    """Read a group; members are only read when the response will carry them."""
    with reading(scope.engine) as conn:
        stored = existing(GROUPS, conn, scope.directory_id, group_id, for_update=False)
        members = (
            membership_lists.members_of(conn, scope.directory_id, group_id)
            if with_members
            else None
        )
    confirmations.confirm_seen(scope, GROUPS, [stored])
    return group_document(scope, stored, members)


def replace_group(
    scope: Scope, group_id: str, replacement: Group, if_match: str | None
) -> ScimDocument:
    """Replace a group (PUT), its member list included."""
    wanted_members = listed_members(replacement.members or [])
    _within_member_limit(scope, len(wanted_members))
    with changing_in(scope) as work:
        conn = work.conn
        stored = existing(GROUPS, conn, scope.directory_id, group_id, for_update=True)
        check_if_match(if_match, stored.version)
        current = group_resource(scope, stored, None)
        replacement.members = None
        replacement.replace(current)
        moves = _replace_members(conn, scope, group_id, wanted_members)
        stored = _save(work, scope, stored, document(replacement), bool(moves))
        _announce(work, stored, moves)
        confirmations.confirm_in(conn, scope, GROUPS, [stored])
        members = membership_lists.members_of(conn, scope.directory_id, group_id)
    return group_document(scope, stored, members)


def patch_group(
    scope: Scope, group_id: str, patch: PatchOp[Group], if_match: str | None, *, respond: bool
) -> ScimDocument | None:
    """Apply a group PATCH atomically; returns the group only when ``respond`` asks for it."""
    return patch_group_steps(scope, group_id, split_group_patch(patch), if_match, respond=respond)


def patch_group_steps(
    scope: Scope,
    group_id: str,
    steps: Sequence[GroupPatchStep],
    if_match: str | None,
    *,
    respond: bool,
) -> ScimDocument | None:
    """Apply the steps of a group PATCH atomically (what ``split_group_patch`` makes of it,
    or what :func:`scimgate.scim.member_patches.member_changes` reads straight from a body).

    A membership change writes rows for the members it names and nothing else,
    so it costs the same for a group of ten as for a group of a hundred thousand.
    """
    _within_member_limit(
        scope,
        sum(
            len(step.members) + len(step.member_ids)
            for step in steps
            if isinstance(step, MemberChange)
        ),
    )
    with changing_in(scope) as work:
        conn = work.conn
        stored = existing(GROUPS, conn, scope.directory_id, group_id, for_update=True)
        check_if_match(if_match, stored.version)
        # A PATCH of members only leaves the document as it is: no model to build.
        group = None
        moves: list[MemberMove] = []
        for step in joined_additions(steps):
            if isinstance(step, MemberChange):
                moves += _apply_member_change(conn, scope, group_id, step)
            else:
                if group is None:
                    group = group_resource(scope, stored, None)
                apply_patch(step, group)
        doc = stored.doc if group is None else document(group)
        stored = _save(work, scope, stored, doc, _membership_moved(moves))
        _announce(work, stored, moves)
        confirmations.confirm_in(conn, scope, GROUPS, [stored])
        if not respond:
            return None
        members = membership_lists.members_of(conn, scope.directory_id, group_id)
    return group_document(scope, stored, members)


def delete_group(scope: Scope, group_id: str, if_match: str | None) -> None:
    """Delete a group: one ``group.deleted`` event, not one per member it had.

    The groups it was a member of announce that it left them, as they do for a
    deleted user. Its members' roles are recomputed; if it was the directory's
    assignment group, its active members are deprovisioned.
    """
    with changing_in(scope) as work:
        conn = work.conn
        stored = existing(GROUPS, conn, scope.directory_id, group_id, for_update=True)
        check_if_match(if_match, stored.version)
        now = utcnow()
        for parent_id in memberships.remove_member_everywhere(conn, scope.directory_id, group_id):
            GROUPS.touch(conn, scope.directory_id, parent_id, now)
            work.membership_changed(parent_id, group_id, "Group", added=False)
        work.group_changed(EventType.group_deleted, group_id)
        former = _user_members(conn, scope, group_id)
        memberships.remove_all(conn, scope.directory_id, group_id)
        GROUPS.delete(conn, scope.directory_id, group_id)
        work.assignment_changed(group_id, former, joined=False)
        roles.recompute(work, former)


def _within_member_limit(scope: Scope, named: int) -> None:
    """Refuse a request naming more members than one transaction changes (413).

    Each member changed is a row and an event written while the transaction
    holds the database; on SQLite no other directory writes meanwhile.
    """
    limit = scope.limits.max_members_per_request
    if named <= limit:
        return
    too_many = TooManyException(
        detail=f"The request names {named:,} members; at most {limit:,} are added or removed "
        "in one request (SCIMGATE_MAX_MEMBERS_PER_REQUEST). Split it into PATCH requests of at "
        f'most {limit:,} members each ("op": "add" or "remove", "path": "members"); a POST or '
        "PUT of the group can carry the first of them"
    )
    too_many.status = 413
    raise too_many


def _save(
    work: UnitOfWork,
    scope: Scope,
    stored: StoredResource,
    doc: dict[str, Any],
    membership_changed: bool,
) -> StoredResource:
    """Store the group's new state; its version moves when its document or its members changed."""
    if doc == stored.doc and not membership_changed:
        return stored
    updated = stored.evolved(doc, utcnow())
    if doc == stored.doc:
        GROUPS.advance(work.conn, scope.directory_id, updated)
        return updated
    GROUPS.replace(work.conn, scope.directory_id, stored.doc, updated)
    work.group_changed(
        EventType.group_updated, stored.id, previous_attributes(stored.doc, doc), stored=updated
    )
    if any(doc.get(key) != stored.doc.get(key) for key in ROLE_KEYS):
        roles.recompute(work, _user_members(work.conn, scope, stored.id))
    return updated


def _membership_moved(moves: list[MemberMove]) -> bool:
    """Whether a request left the member rows otherwise than it found them.

    A member added and removed again in one PATCH is announced both ways, but
    the group ends as it was, and so does its version.
    """
    net: dict[str, int] = {}
    for move in moves:
        net[move.member_id] = net.get(move.member_id, 0) + (1 if move.added else -1)
    return any(net.values())


ROLE_KEYS = ("displayName", "externalId")
"""What role rules match a group by: renaming it can change its members' roles."""


def _user_members(conn: Connection, scope: Scope, group_id: str) -> list[str]:
    members = membership_lists.members_of(conn, scope.directory_id, group_id)
    return [member.id for member in members if member.type == "User"]


def _apply_member_change(
    conn: Connection, scope: Scope, group_id: str, change: MemberChange
) -> list[MemberMove]:
    if change.action == MemberAction.add:
        return _add_members(conn, scope, group_id, change.members)
    if change.action == MemberAction.replace:
        return _replace_members(conn, scope, group_id, change.members)
    if change.action == MemberAction.remove_all:
        ids = tuple(m.id for m in membership_lists.members_of(conn, scope.directory_id, group_id))
    elif change.selection is not None:
        ids = _members_matching(conn, scope, group_id, change.selection)
    else:
        ids = change.member_ids
    return _remove_members(conn, scope, group_id, ids)


def _add_members(
    conn: Connection, scope: Scope, group_id: str, listed: Sequence[ListedMember]
) -> list[MemberMove]:
    """Add members; each must be a user or another group of this directory."""
    if not listed:
        return []
    ids = [member.id for member in listed]
    # Users and groups joining stay locked until the transaction ends, so that a member is
    # never added as it is deleted (see memberships.already_and_users).
    joiners = memberships.already_and_users(conn, scope.directory_id, group_id, ids)
    already, user_ids = joiners.already, joiners.users
    joining = [member_id for member_id in ids if member_id not in already]
    # Ids are unique across users and groups: only those that are not users can be groups.
    not_users = [member_id for member_id in joining if member_id not in user_ids]
    group_ids = GROUPS.existing_ids(conn, scope.directory_id, not_users, lock=True)
    known = user_ids | group_ids
    unknown = [member_id for member_id in joining if member_id not in known]
    if unknown:
        raise InvalidValueException(
            detail=f"members: no user or group with id {unknown[0]} in this directory"
            + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else "")
        )
    if group_id in group_ids:
        raise InvalidValueException(detail="members: a group cannot be a member of itself")
    new = {
        member.id: memberships.NewMember(
            member.id, "User" if member.id in user_ids else "Group", member.display
        )
        for member in listed
        if member.id not in already
    }
    memberships.add(conn, scope.directory_id, group_id, new.values())
    return [
        MemberMove(member.id, member.type, added=True, before=_as_read(joiners, member.id))
        for member in new.values()
    ]


def _as_read(joiners: memberships.Joiners, member_id: str) -> UserFacts | None:
    """A user joining as the add read it, if it did (on SQLite): its payload's start."""
    found = joiners.as_read.get(member_id)
    return None if found is None else user_facts_of(found)


def _remove_members(
    conn: Connection, scope: Scope, group_id: str, ids: Sequence[str]
) -> list[MemberMove]:
    present = sorted(memberships.member_ids(conn, scope.directory_id, group_id, ids))
    users_left = USERS.existing_ids(conn, scope.directory_id, present)
    memberships.remove(conn, scope.directory_id, group_id, present)
    return [
        MemberMove(member_id, "User" if member_id in users_left else "Group", added=False)
        for member_id in present
    ]


def _replace_members(
    conn: Connection, scope: Scope, group_id: str, listed: Sequence[ListedMember]
) -> list[MemberMove]:
    current = {m.id for m in membership_lists.members_of(conn, scope.directory_id, group_id)}
    wanted = {member.id for member in listed}
    removed = _remove_members(conn, scope, group_id, sorted(current - wanted))
    return removed + _add_members(conn, scope, group_id, [m for m in listed if m.id not in current])


def _announce(work: UnitOfWork, stored: StoredResource, moves: list[MemberMove]) -> None:
    """Record a request's membership changes, then what they did to access and roles.

    Called once the group's new version is stored (``stored``), so that the
    events show the group as the request left it. A user added and removed
    again (or the other way round) by the same request keeps its access as it
    was. What the events read of the users is what their roles are computed from.
    """
    group_id = stored.id
    facts = work.memberships_changed(group_id, moves, stored=stored)
    net: dict[str, bool] = {}
    for move in moves:
        if move.member_type == "User" and net.pop(move.member_id, None) is None:
            net[move.member_id] = move.added
    joined = sorted(user_id for user_id, added in net.items() if added)
    left = sorted(user_id for user_id, added in net.items() if not added)
    work.assignment_changed(group_id, joined, joined=True, facts=facts)
    work.assignment_changed(group_id, left, joined=False, facts=facts)
    roles.recompute(work, sorted(net), known=facts)


def _members_matching(
    conn: Connection, scope: Scope, group_id: str, selection: Any
) -> tuple[str, ...]:
    """Members selected by a filter other than ``value eq``: evaluated on the member rows."""
    member_filter = cast(Any, ScimFilter)[GroupMember](selection)
    return tuple(
        member.id
        for member in membership_lists.members_of(conn, scope.directory_id, group_id)
        if member_filter.match(
            GroupMember(value=member.id, type=member.type, display=member.display)
        )
    )
