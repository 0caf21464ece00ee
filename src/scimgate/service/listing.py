"""Listing and searching resources: filter in SQL, sort, page by keyset where the walk allows."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, cast

from scim2_models import InvalidCursorException, ScimFilter, SearchRequest
from sqlalchemy import Connection

from scimgate.scim.documents import ListDocument, ScimDocument
from scimgate.service import confirmations
from scimgate.service.representation import group_document, user_document
from scimgate.service.scope import Scope
from scimgate.service.walks import WalkKey, WalkPositions
from scimgate.store import memberships
from scimgate.store.query.filters import filter_clause
from scimgate.store.query.sorting import Ordering, ordering
from scimgate.store.resources import GROUPS, USERS, ResourceTable, StoredResource
from scimgate.store.transactions import reading

Builder = Callable[[Connection, Scope, list[StoredResource], bool], list[ScimDocument]]


@dataclass(frozen=True)
class ResourceKind:
    """One resource type as the list use case needs it."""

    name: str
    table: ResourceTable
    build: Builder


def _build_users(
    conn: Connection, scope: Scope, rows: list[StoredResource], _with_members: bool
) -> list[ScimDocument]:
    groups = memberships.groups_of(conn, scope.directory_id, [row.id for row in rows])
    return [user_document(scope, row, groups[row.id]) for row in rows]


def _build_groups(
    conn: Connection, scope: Scope, rows: list[StoredResource], with_members: bool
) -> list[ScimDocument]:
    return [
        group_document(
            scope,
            row,
            memberships.members_of(conn, scope.directory_id, row.id) if with_members else None,
        )
        for row in rows
    ]


USER_KIND = ResourceKind("User", USERS, _build_users)
GROUP_KIND = ResourceKind("Group", GROUPS, _build_groups)

_walks = WalkPositions()


def list_resources(
    scope: Scope,
    kind: ResourceKind,
    search: SearchRequest[Any],
    *,
    with_members: bool = True,
    by_idp: bool = True,
) -> ListDocument:
    """Answer a list or search request (RFC 7644 §3.4.2) with one page of resources.

    A page the IdP reads confirms what it shows (drift detection); one the
    application reads (``by_idp=False``) confirms nothing.
    """
    limits = scope.limits
    count = min(
        search.count if search.count is not None else limits.default_count, limits.max_results
    )
    start_index = search.start_index or 1
    condition = filter_clause(kind.table.table, search.filter) if search.filter else None
    keyset = search.sort_by is None
    walk = WalkKey(
        scope.directory_id,
        kind.name,
        str(search.filter) if search.filter else None,
        count,
        start_index,
    )
    if search.cursor is not None:
        position = _decode_cursor(search.cursor)
    elif keyset:
        position = Position(offset=start_index - 1, after_id=_walks.resume_after(walk))
    else:
        position = Position(offset=start_index - 1)

    with reading(scope.engine) as conn:
        rows = []
        if count:
            rows = kind.table.page(
                conn,
                scope.directory_id,
                condition,
                _order_by(kind, scope.models.of(kind.name), search),
                count,
                offset=0 if position.after_id else position.offset,
                after_id=position.after_id,
            )
        from_the_start = position.offset == 0 and position.after_id is None
        if count and from_the_start and len(rows) < count:
            total = len(rows)  # a short first page (a lookup's) is all there is: nothing to count
        else:
            total = kind.table.count(conn, scope.directory_id, condition)
        resources = kind.build(conn, scope, rows, with_members)
    if by_idp:
        confirmations.confirm_seen(scope, kind.table, rows)

    full_page = bool(rows) and len(rows) == count
    if full_page and keyset and search.cursor is None:
        _walks.remember(replace(walk, start_index=start_index + count), rows[-1].id)
    next_cursor = None
    if full_page and search.cursor is not None:
        next_cursor = _encode_cursor(
            Position(after_id=rows[-1].id) if keyset else Position(offset=position.offset + count)
        )
    return ListDocument(
        total_results=total,
        start_index=start_index if search.cursor is None else None,
        resources=resources,
        next_cursor=next_cursor,
        list_model=scope.models.list_response,
    )


def _order_by(kind: ResourceKind, model: Any, search: SearchRequest[Any]) -> Ordering:
    binding = search.sort_binding(model) if search.sort_by else None
    descending = search.sort_order == SearchRequest.SortOrder.descending
    return ordering(kind.table.table, binding, descending=descending)


@dataclass(frozen=True)
class Position:
    """Where a page starts: after an id in id order (keyset), or at an offset."""

    offset: int = 0
    after_id: str | None = None


def _encode_cursor(position: Position) -> str:
    """An opaque RFC 9865 cursor for the page starting at a position."""
    text = f"k:{position.after_id}" if position.after_id else f"o:{position.offset}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> Position:
    """The position a cursor names; the empty cursor starts a cursor walk."""
    if cursor == "":
        return Position()
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind == "k":
            return Position(after_id=str(uuid.UUID(value)))
        if kind == "o" and value.isascii() and value.isdigit() and len(value) <= 18:
            return Position(offset=int(value))  # 18 digits stay within a 64-bit OFFSET
    except (ValueError, binascii.Error, UnicodeDecodeError):
        pass
    raise InvalidCursorException(
        detail=f"cursor {cursor!r} is not one this server issued; start again with cursor="
    )


def search_everything(scope: Scope, search: SearchRequest[Any]) -> ListDocument:
    """``POST /.search`` at the root: users, then groups, as one positional list.

    The filter is bound to each resource type in turn; an attribute one type
    does not have makes the comparison false for it (RFC 7644 §3.4.2.1).
    """
    limits = scope.limits
    count = min(
        search.count if search.count is not None else limits.default_count, limits.max_results
    )
    offset = (search.start_index or 1) - 1
    resources: list[ScimDocument] = []
    total = 0
    with reading(scope.engine) as conn:
        for kind in (USER_KIND, GROUP_KIND):
            scim_filter = (
                cast(Any, ScimFilter)[scope.models.of(kind.name)](str(search.filter))
                if search.filter
                else None
            )
            condition = filter_clause(kind.table.table, scim_filter) if scim_filter else None
            matching = kind.table.count(conn, scope.directory_id, condition)
            wanted = count - len(resources)
            skip = max(offset - total, 0)
            total += matching
            if wanted <= 0 or skip >= matching:
                continue
            rows = kind.table.page(
                conn,
                scope.directory_id,
                condition,
                ordering(kind.table.table, None, descending=False),
                wanted,
                offset=skip,
            )
            resources.extend(kind.build(conn, scope, rows, True))
    return ListDocument(
        total_results=total,
        start_index=offset + 1,
        resources=resources,
        next_cursor=None,
        list_model=scope.models.list_response,
    )
