"""A directory browsed page by page in the portal: users and groups, searched, in detail.

Everything here is read as the app reads, so browsing never counts as the IdP
confirming a resource (the drift report stays true).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Generic, TypeVar, cast

from scim2_models import (
    Context,
    InvalidFilterException,
    SearchRequest,
)
from sqlalchemy import Engine

from scimgate.records import frozen
from scimgate.scim.limits import Limits
from scimgate.scim.normalized import DirectoryGroup, DirectoryUser, normalize_group
from scimgate.service.administration.directory_view import normalized_users
from scimgate.service.directories import existing_directory
from scimgate.service.event_stream import event_feed
from scimgate.service.provisioning import listing
from scimgate.service.provisioning.representation import group_resource, user_resource
from scimgate.service.provisioning.scope import Scope
from scimgate.store import dashboard, membership_lists
from scimgate.store.errors import NotFound
from scimgate.store.membership_lists import Member
from scimgate.store.resource_tables import GROUPS, USERS
from scimgate.store.tenants import Directory
from scimgate.store.transactions import reading

MAX_QUERY = 200
"""The longest search text the pages accept."""

T = TypeVar("T")


@frozen
class Page(Generic[T]):
    items: list[T]
    total: int
    start: int
    """The 1-based position of the first item."""

    size: int
    """How many items a full page holds."""

    @property
    def previous_start(self) -> int | None:
        return max(self.start - self.size, 1) if self.start > 1 else None

    @property
    def next_start(self) -> int | None:
        following = self.start + len(self.items)
        return following if following <= self.total and self.items else None

    @property
    def last(self) -> int:
        """The position of the last item shown."""
        return self.start + len(self.items) - 1


@frozen
class Browsed(Generic[T]):
    """A page of a directory's users or groups, with the directory the page belongs to."""

    directory: Directory
    page: Page[T]


@frozen
class UserRow:
    user: DirectoryUser
    last_modified: datetime


@frozen
class GroupRow:
    group: DirectoryGroup
    members: int
    last_modified: datetime


@frozen
class Change:
    """One attribute an event changed, as compact JSON; None when absent."""

    attribute: str
    before: str | None
    after: str | None


@frozen
class HistoryEntry:
    id: str
    type: str
    occurred_at: datetime
    changes: list[Change]
    reason: str | None
    """Why access ended, for ``user.deactivated`` and ``user.deleted``."""

    group: str | None
    """The group of a membership event (``group.user_added``, ``group.user_removed``)."""


@frozen
class UserDetail:
    directory: Directory
    user: DirectoryUser
    document: str
    """The SCIM document, as the IdP reads it, indented JSON."""

    history: list[HistoryEntry]
    """Every published event about the user, oldest first."""


@frozen
class GroupDetail:
    directory: Directory
    group: DirectoryGroup
    last_modified: datetime
    document: str
    members: Page[Member]


def search_users(
    engine: Engine, directory_id: str, root: str, text: str, *, start: int, size: int
) -> Browsed[UserRow]:
    """A page of a directory's users whose userName, name or e-mail contains ``text``.

    All users when ``text`` is blank. ``UnknownDirectory`` for an unknown directory.
    """
    fields = ("userName", "displayName", "name.formatted", "name.givenName", "name.familyName")
    scope = _scope(engine, directory_id, root)
    found = _search(
        scope,
        listing.USER_KIND,
        _contains_filter((*fields, "emails.value"), text),
        start,
        size,
    )
    normalized = normalized_users(engine, directory_id, found.items)
    rows = [
        UserRow(user, resource.meta.last_modified)
        for user, resource in zip(normalized, found.items, strict=True)
    ]
    return Browsed(scope.directory, Page(rows, found.total, found.start, found.size))


def search_groups(
    engine: Engine, directory_id: str, root: str, text: str, *, start: int, size: int
) -> Browsed[GroupRow]:
    """A page of a directory's groups whose name or IdP id contains ``text``, with member counts."""
    scope = _scope(engine, directory_id, root)
    found = _search(
        scope,
        listing.GROUP_KIND,
        _contains_filter(("displayName", "externalId"), text),
        start,
        size,
    )
    with reading(engine) as conn:
        counts = dashboard.member_counts(
            conn, directory_id, [str(group.id) for group in found.items]
        )
    rows = [
        GroupRow(normalize_group(group), counts[str(group.id)], group.meta.last_modified)
        for group in found.items
    ]
    return Browsed(scope.directory, Page(rows, found.total, found.start, found.size))


def user_detail(engine: Engine, directory_id: str, user_id: str, root: str) -> UserDetail | None:
    """A user of the directory with its SCIM document and history; None if it has no such user.

    ``UnknownDirectory`` for an unknown directory.
    """
    scope = _scope(engine, directory_id, root)
    with reading(engine) as conn:
        try:
            stored = USERS.existing(conn, directory_id, user_id, for_update=False)
        except NotFound:
            return None
        groups = membership_lists.groups_of(conn, directory_id, [user_id])[user_id]
    resource = user_resource(scope, stored, groups)
    history = event_feed.user_history(engine, directory_id, user_id)
    return UserDetail(
        directory=scope.directory,
        user=normalized_users(engine, directory_id, [resource])[0],
        document=_pretty(resource),
        history=[_history_entry(event) for event in history],
    )


def group_detail(
    engine: Engine, directory_id: str, group_id: str, root: str, *, start: int, size: int
) -> GroupDetail | None:
    """A group of the directory with one page of its members; None if it has no such group."""
    scope = _scope(engine, directory_id, root)
    with reading(engine) as conn:
        try:
            stored = GROUPS.existing(conn, directory_id, group_id, for_update=False)
        except NotFound:
            return None
        total = dashboard.member_counts(conn, directory_id, [group_id])[group_id]
        members = dashboard.members_page(conn, directory_id, group_id, size, start - 1)
    resource = group_resource(scope, stored, None)
    return GroupDetail(
        directory=scope.directory,
        group=normalize_group(resource),
        last_modified=stored.modified_at,
        document=_pretty(resource),
        members=Page(members, total, start, size),
    )


def _scope(engine: Engine, directory_id: str, root: str) -> Scope:
    with reading(engine) as conn:
        directory = existing_directory(conn, directory_id)
    return Scope(engine, directory, f"{root.rstrip('/')}/scim/v2/{directory_id}", Limits())


def _contains_filter(attributes: tuple[str, ...], text: str) -> str | None:
    """A SCIM filter: any of these attributes contains the text (case-insensitively)."""
    cleaned = "".join(char for char in text.strip()[:MAX_QUERY] if char.isprintable())
    if not cleaned:
        return None
    value = json.dumps(cleaned, ensure_ascii=False)
    return " or ".join(f"{attribute} co {value}" for attribute in attributes)


def _search(
    scope: Scope, kind: listing.ResourceKind, scim_filter: str | None, start: int, size: int
) -> Page[Any]:
    """One page of resources matching a filter, read as the app reads (confirming nothing)."""
    request: dict[str, Any] = {"count": size, "startIndex": start}
    if scim_filter is not None:
        request["filter"] = scim_filter
    model = scope.models.of(kind.name)
    try:
        search = cast(Any, SearchRequest)[model].model_validate(request)
    except (InvalidFilterException, ValueError):
        # Text the filter grammar cannot carry matches nothing rather than failing the page.
        return Page([], 0, start, size)
    listed = listing.list_resources(scope, kind, search, with_members=False, by_idp=False)
    return Page(listed.models(), listed.total_results, start, size)


def _pretty(resource: Any) -> str:
    document = resource.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    return json.dumps(document, indent=2, ensure_ascii=False, default=str)


def _history_entry(event: dict[str, Any]) -> HistoryEntry:
    data: dict[str, Any] = event["data"]
    raw: dict[str, Any] = (data.get("user") or {}).get("raw") or {}
    changes: list[Change] = []
    for attribute, before in (data.get("previous_attributes") or {}).items():
        after = raw.get(attribute)
        if attribute.startswith("urn:") and isinstance(before, dict):
            nested = after if isinstance(after, dict) else {}
            changes.extend(
                Change(f"{attribute}:{key}", _compact(value), _compact(nested.get(key)))
                for key, value in before.items()
            )
        else:
            changes.append(Change(attribute, _compact(before), _compact(after)))
    return HistoryEntry(
        id=event["id"],
        type=event["type"],
        occurred_at=datetime.fromisoformat(event["occurred_at"]),
        changes=changes,
        reason=data.get("reason"),
        group=(data.get("group") or {}).get("name"),
    )


def _compact(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)
