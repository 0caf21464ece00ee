"""One sync of a pulled Google Workspace directory: read the account, then write the difference.

The whole account is read before anything is written, so a sync that Google
stops halfway (quota, a revoked key) changes nothing rather than deprovision
everyone it had not reached yet. The difference is then written through the same
use cases a SCIM push goes through, each with its events: users created or
updated (suspension deactivates), users who left the scope deactivated, users
deleted in Google deleted, then groups, then memberships. Writes are committed a
hundred at a time, each in a savepoint of its own, so one refused leaves only
itself out. Nothing is written for what did not change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from scim2_models import Context, SCIMException

from scimgate.events.models import DeprovisionReason
from scimgate.scim.google_workspace import (
    ScopeKind,
    SyncScope,
    group_document,
    manager_email,
    user_document,
)
from scimgate.scim.group_patch import ListedMember, MemberAction, MemberChange
from scimgate.scim.requests import read_patch, read_resource
from scimgate.service.directory_sync.google_api import DirectoryApi
from scimgate.service.errors import ServiceError
from scimgate.service.provisioning import confirmations, groups, users
from scimgate.service.provisioning.every_resource import every_resource
from scimgate.service.provisioning.representation import document
from scimgate.service.provisioning.scope import Scope
from scimgate.store import membership_lists
from scimgate.store.resource_tables import GROUPS, USERS
from scimgate.store.stored_resources import StoredResource
from scimgate.store.transactions import committed_together, reading

CREATE = Context.RESOURCE_CREATION_REQUEST
REPLACE = Context.RESOURCE_REPLACEMENT_REQUEST
SHOWN_REFUSALS = 20
BATCH = 100
"""Writes a sync commits together."""
CONFIRM_BATCH = 500
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
T = TypeVar("T")


@dataclass
class SyncCounts:
    """What one sync found and changed."""

    users: int = 0
    """People in scope."""
    groups: int = 0
    memberships: int = 0
    users_created: int = 0
    users_updated: int = 0
    users_deactivated: int = 0
    """Suspended or archived in Google, or gone out of the scope."""
    users_deleted: int = 0
    groups_created: int = 0
    groups_updated: int = 0
    groups_deleted: int = 0
    groups_members_changed: int = 0
    """Groups whose members were added or removed."""
    refused: int = 0
    api_calls: int = 0
    retries: int = 0

    def as_dict(self) -> dict[str, int]:
        return {item.name: getattr(self, item.name) for item in fields(self)}


@dataclass
class Account:
    """What the Directory API showed of the account, cut to the sync's scope."""

    users: dict[str, dict[str, Any]]
    """In scope, by Google id."""
    known_user_ids: set[str]
    """Every user of the account, in scope or not: who is missing was deleted."""
    groups: dict[str, dict[str, Any]]
    """Synced groups, by Google id."""
    members: dict[str, list[str]]
    """The Google ids of each synced group's members in scope."""


@dataclass
class Outcome:
    counts: SyncCounts = field(default_factory=SyncCounts)
    refusals: list[str] = field(default_factory=list)
    unchanged_users: list[StoredResource] = field(default_factory=list)
    unchanged_groups: list[StoredResource] = field(default_factory=list)
    """What the source showed as it is stored: confirmed, as an IdP's reads confirm."""


class EmptyAccount(ServiceError):
    """Google listed nobody in scope while the directory has users: nothing is deprovisioned."""


def read_account(api: DirectoryApi, scope: SyncScope) -> Account:
    """Everything the sync needs from Google, read in full before anything is written."""
    everyone = {str(user["id"]): user for user in api.users()}
    all_groups = [group for group in api.groups() if scope.holds_group(str(group["email"]))]
    members = {
        str(group["id"]): [
            str(member["id"])
            for member in api.members(str(group["id"]))
            if member.get("type") == "USER" and member.get("id")
        ]
        for group in all_groups
    }
    if scope.kind is ScopeKind.groups:
        chosen = {member for ids in members.values() for member in ids}
        in_scope = {key: user for key, user in everyone.items() if key in chosen}
    else:
        in_scope = {
            key: user
            for key, user in everyone.items()
            if scope.holds_org_unit(str(user.get("orgUnitPath") or "/"))
        }
    return Account(
        users=in_scope,
        known_user_ids=set(everyone),
        groups={str(group["id"]): group for group in all_groups},
        members={
            group: [member for member in ids if member in in_scope]
            for group, ids in members.items()
        },
    )


def apply(
    scope: Scope,
    account: Account,
    heartbeat: Callable[[], None] = lambda: None,
    *,
    empty_allowed: bool = False,
) -> Outcome:
    """Write what differs between the account and the directory; refusals are counted, not fatal.

    An account with nobody in scope empties a directory that has users only when an
    administrator allowed it (``empty_allowed``): else :class:`EmptyAccount`, and nothing
    is written.
    """
    outcome = Outcome()
    stored_users = _by_external_id(every_resource(scope.engine, scope.directory_id, USERS))
    if not account.users and stored_users and not empty_allowed:
        raise EmptyAccount(
            f"Google listed no user in the sync's scope, yet the directory has "
            f"{len(stored_users)}: nothing was deprovisioned. Check the scope and the customer "
            "ID; if everyone in scope has left, allow the next sync to deprovision them "
            "(the directory's page in the portal, 'scimgate google allow-empty', or "
            f"POST /api/v1/directories/{scope.directory_id}/google/allow-empty)"
        )
    ids = {google_id: stored.id for google_id, stored in stored_users.items()}
    _sync_users(scope, account, stored_users, ids, outcome, heartbeat)
    _remove_users(scope, account, stored_users, outcome, heartbeat)
    group_ids = _sync_groups(scope, account, outcome, heartbeat)
    _sync_members(scope, account, ids, group_ids, outcome, heartbeat)
    # Seen unchanged, they are confirmed: the drift report lists what Google stopped showing.
    for table, seen in ((USERS, outcome.unchanged_users), (GROUPS, outcome.unchanged_groups)):
        for start in range(0, len(seen), CONFIRM_BATCH):
            confirmations.confirm_seen(scope, table, seen[start : start + CONFIRM_BATCH])
    counts = outcome.counts
    counts.users = len(account.users)
    counts.groups = len(account.groups)
    counts.memberships = sum(len(members) for members in account.members.values())
    return outcome


def _sync_users(
    scope: Scope,
    account: Account,
    stored_users: Mapping[str, StoredResource],
    ids: dict[str, str],
    outcome: Outcome,
    heartbeat: Callable[[], None],
) -> None:
    by_email = {str(user["primaryEmail"]).casefold(): key for key, user in account.users.items()}
    for google_id in _batched(scope, _managers_first(account.users, by_email), heartbeat):
        user = account.users[google_id]
        manager = manager_email(user)
        manager_id = ids.get(by_email.get(manager.casefold(), "")) if manager else None
        doc = user_document(user, manager_id, scope.users_url)
        stored = stored_users.get(google_id)
        if stored is not None and doc == stored.doc:
            # Unchanged, as most people are at most syncs: nothing to validate.
            outcome.unchanged_users.append(stored)
            continue
        try:
            if stored is None:
                model = read_resource(scope.models.user, doc, CREATE, "User", scope.users_url)
                ids[google_id] = str(users.create_user(scope, model).id)
                outcome.counts.users_created += 1
            else:
                model = read_resource(scope.models.user, doc, REPLACE, "User", scope.users_url)
                if document(model) == stored.doc:
                    outcome.unchanged_users.append(stored)
                    continue
                users.replace_user(scope, stored.id, model, None)
                if stored.doc.get("active") is not False and doc["active"] is False:
                    outcome.counts.users_deactivated += 1
                else:
                    outcome.counts.users_updated += 1
        except (SCIMException, ServiceError) as exc:
            _refused(outcome, f"user {user.get('primaryEmail')} ({google_id})", exc)


def _remove_users(
    scope: Scope,
    account: Account,
    stored_users: Mapping[str, StoredResource],
    outcome: Outcome,
    heartbeat: Callable[[], None],
) -> None:
    for google_id, stored in _batched(scope, list(stored_users.items()), heartbeat):
        if google_id in account.users:
            continue
        try:
            if google_id in account.known_user_ids:
                if stored.doc.get("active") is not False:
                    users.deactivate_user(scope, stored.id, DeprovisionReason.unassigned)
                    outcome.counts.users_deactivated += 1
            else:
                users.delete_user(scope, stored.id, None)
                outcome.counts.users_deleted += 1
        except (SCIMException, ServiceError) as exc:
            _refused(outcome, f"user {stored.doc.get('userName')} ({google_id})", exc)


def _sync_groups(
    scope: Scope, account: Account, outcome: Outcome, heartbeat: Callable[[], None]
) -> dict[str, str]:
    """Groups created, renamed or deleted; their ids in the directory, by Google id."""
    stored_groups = _by_external_id(every_resource(scope.engine, scope.directory_id, GROUPS))
    ids = {google_id: stored.id for google_id, stored in stored_groups.items()}
    for google_id, group in _batched(scope, list(account.groups.items()), heartbeat):
        doc = group_document(group)
        stored = stored_groups.get(google_id)
        try:
            if stored is None:
                model = read_resource(scope.models.group, doc, CREATE, "Group", scope.users_url)
                ids[google_id] = str(groups.create_group(scope, model).id)
                outcome.counts.groups_created += 1
            elif doc["displayName"] == stored.doc.get("displayName"):
                outcome.unchanged_groups.append(stored)
            else:
                rename = {"op": "replace", "path": "displayName", "value": doc["displayName"]}
                patch = read_patch(
                    scope.models.group,
                    {"schemas": [PATCH_SCHEMA], "Operations": [rename]},
                    scope.users_url,
                )
                groups.patch_group(scope, stored.id, patch, None, respond=False)
                outcome.counts.groups_updated += 1
        except (SCIMException, ServiceError) as exc:
            _refused(outcome, f"group {group.get('email')} ({google_id})", exc)
    for google_id, stored in _batched(scope, list(stored_groups.items()), heartbeat):
        if google_id in account.groups:
            continue
        try:
            groups.delete_group(scope, stored.id, None)
            outcome.counts.groups_deleted += 1
            ids.pop(google_id, None)
        except (SCIMException, ServiceError) as exc:
            _refused(outcome, f"group {stored.doc.get('displayName')} ({google_id})", exc)
    return ids


def _sync_members(
    scope: Scope,
    account: Account,
    user_ids: Mapping[str, str],
    group_ids: Mapping[str, str],
    outcome: Outcome,
    heartbeat: Callable[[], None],
) -> None:
    for google_id, members in _batched(scope, list(account.members.items()), heartbeat):
        group_id = group_ids.get(google_id)
        if group_id is None:
            continue
        wanted = [user_ids[member] for member in members if member in user_ids]
        with reading(scope.engine) as conn:
            current = {
                m.id for m in membership_lists.members_of(conn, scope.directory_id, group_id)
            }
        if current == set(wanted):
            continue
        step = MemberChange(MemberAction.replace, tuple(ListedMember(id) for id in wanted))
        try:
            groups.patch_group_steps(scope, group_id, [step], None, respond=False)
            outcome.counts.groups_members_changed += 1
        except (SCIMException, ServiceError) as exc:
            _refused(outcome, f"members of group {account.groups[google_id].get('email')}", exc)


def _batched(scope: Scope, items: list[T], heartbeat: Callable[[], None]) -> Iterator[T]:
    """The items, the writes made for them committed together ``BATCH`` at a time.

    Group commit (``committed_together``): each write keeps its own transaction's
    meaning (a savepoint: one refused leaves only itself out), and the commit is paid
    once a batch, which an initial sync of thousands of people mostly is.
    """
    for start in range(0, len(items), BATCH):
        with committed_together(scope.engine):
            yield from items[start : start + BATCH]
        heartbeat()


def _managers_first(
    people: Mapping[str, Mapping[str, Any]], by_email: Mapping[str, str]
) -> list[str]:
    """Google ids in an order where a manager comes before those who report to them
    (where the chain has no loop), so that a new person's manager is already there."""
    ordered: list[str] = []
    placed: set[str] = set()
    for start in people:
        chain: list[str] = []
        current: str | None = start
        while current is not None and current not in placed and current not in chain:
            chain.append(current)
            manager = manager_email(people[current])
            current = by_email.get(manager.casefold()) if manager else None
        for google_id in reversed(chain):
            placed.add(google_id)
            ordered.append(google_id)
    return ordered


def _by_external_id(stored: Iterable[StoredResource]) -> dict[str, StoredResource]:
    """Resources by the Google id they were made from; others (none are) are left alone."""
    return {str(s.doc["externalId"]): s for s in stored if s.doc.get("externalId")}


def _refused(outcome: Outcome, what: str, exc: Exception) -> None:
    outcome.counts.refused += 1
    if len(outcome.refusals) < SHOWN_REFUSALS:
        reason = getattr(exc, "detail", None) or str(exc)
        outcome.refusals.append(f"{what}: {reason}")
