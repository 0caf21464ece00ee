"""Listing and searching resources: filter in SQL, sort, page by keyset where the walk allows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from scim2_models import ScimFilter, SearchRequest
from sqlalchemy import Connection

from scimgate.records import frozen
from scimgate.scim.cursors import Position, decode_cursor, encode_cursor
from scimgate.scim.documents import ListDocument, ScimDocument
from scimgate.scim.limits import Limits
from scimgate.service.provisioning import confirmations
from scimgate.service.provisioning.representation import group_document, user_document
from scimgate.service.provisioning.scope import Scope
from scimgate.service.provisioning.walks import WalkKey, WalkPositions, walks_of
from scimgate.store import membership_lists
from scimgate.store.query.filters import Condition, filter_clause
from scimgate.store.resource_tables import GROUPS, USERS, ResourceTable
from scimgate.store.stored_resources import StoredResource
from scimgate.store.transactions import reading

Builder = Callable[[Connection, Scope, list[StoredResource], bool], list[ScimDocument]]


@frozen
class ResourceKind:
    """One resource type as the list use case needs it."""

    name: str
    table: ResourceTable
    build: Builder


def _build_users(
    conn: Connection, scope: Scope, rows: list[StoredResource], _with_members: bool
) -> list[ScimDocument]:
    groups = membership_lists.groups_of(conn, scope.directory_id, [row.id for row in rows])
    return [user_document(scope, row, groups[row.id]) for row in rows]


def _build_groups(
    conn: Connection, scope: Scope, rows: list[StoredResource], with_members: bool
) -> list[ScimDocument]:
    return [
        group_document(
            scope,
            row,
            membership_lists.members_of(conn, scope.directory_id, row.id) if with_members else None,
        )
        for row in rows
    ]


USER_KIND = ResourceKind("User", USERS, _build_users)
GROUP_KIND = ResourceKind("Group", GROUPS, _build_groups)


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
    count = _page_size(scope.limits, search)
    start_index = search.start_index or 1
    condition = filter_clause(kind.table.table, search.filter) if search.filter else None
    walks = walks_of(scope.engine)
    walk = _sequential_walk(scope, kind, search, count, start_index)
    position = _page_position(search, start_index, walk, walks)
    with reading(scope.engine) as conn:
        rows = _page_rows(conn, scope, kind, search, condition, count, position)
        total = _total(conn, scope, kind, condition, count, position, rows)
        resources = kind.build(conn, scope, rows, with_members)
    if by_idp:
        confirmations.confirm_seen(scope, kind.table, rows)
    _remember_walk(walks, walk, count, rows)
    return ListDocument(
        total_results=total,
        start_index=start_index if search.cursor is None else None,
        resources=resources,
        next_cursor=_next_cursor(search, position, count, rows),
        list_model=scope.models.list_response,
    )


def _page_size(limits: Limits, search: SearchRequest[Any]) -> int:
    """``count``, or the default, within the most a page may hold."""
    wanted = search.count if search.count is not None else limits.default_count
    return min(wanted, limits.max_results)


def _sequential_walk(
    scope: Scope, kind: ResourceKind, search: SearchRequest[Any], count: int, start_index: int
) -> WalkKey | None:
    """The ``startIndex`` walk this page belongs to; None for a cursor walk or a sorted one."""
    if search.cursor is not None or search.sort_by is not None:
        return None
    scim_filter = str(search.filter) if search.filter else None
    return WalkKey(scope.directory_id, kind.name, scim_filter, count, start_index)


def _page_position(
    search: SearchRequest[Any], start_index: int, walk: WalkKey | None, walks: WalkPositions
) -> Position:
    """Where the page starts: the cursor's position, or ``startIndex`` (by keyset if known)."""
    if search.cursor is not None:
        return decode_cursor(search.cursor)
    after_id = walks.resume_after(walk) if walk is not None else None
    return Position(offset=start_index - 1, after_id=after_id)


def _page_rows(
    conn: Connection,
    scope: Scope,
    kind: ResourceKind,
    search: SearchRequest[Any],
    condition: Condition | None,
    count: int,
    position: Position,
) -> list[StoredResource]:
    """The page's rows, from its position, in ``sortBy`` order (id order without one)."""
    if not count:
        return []
    model = scope.models.of(kind.name)
    return kind.table.page(
        conn,
        scope.directory_id,
        condition,
        count,
        sort_by=search.sort_binding(model) if search.sort_by else None,
        descending=search.sort_order == SearchRequest.SortOrder.descending,
        offset=0 if position.after_id else position.offset,
        after_id=position.after_id,
    )


def _total(
    conn: Connection,
    scope: Scope,
    kind: ResourceKind,
    condition: Condition | None,
    count: int,
    position: Position,
    rows: list[StoredResource],
) -> int:
    """``totalResults``: counted, unless a short first page already holds every match."""
    from_the_start = position.offset == 0 and position.after_id is None
    if count and from_the_start and len(rows) < count:
        return len(rows)  # a short first page (a lookup's) is all there is: nothing to count
    return kind.table.count(conn, scope.directory_id, condition)


def _full(rows: list[StoredResource], count: int) -> bool:
    """Whether a page came back full, so that another may follow."""
    return bool(rows) and len(rows) == count


def _remember_walk(
    walks: WalkPositions, walk: WalkKey | None, count: int, rows: list[StoredResource]
) -> None:
    """After a full page of a ``startIndex`` walk, where its next page resumes."""
    if walk is not None and _full(rows, count):
        walks.remember(walk.next_page(), rows[-1].id)


def _next_cursor(
    search: SearchRequest[Any], position: Position, count: int, rows: list[StoredResource]
) -> str | None:
    """The cursor of the next page of a cursor walk; None outside one and after its last page."""
    if search.cursor is None or not _full(rows, count):
        return None
    if search.sort_by is None:
        return encode_cursor(Position(after_id=rows[-1].id))
    return encode_cursor(Position(offset=position.offset + count))


def search_everything(scope: Scope, search: SearchRequest[Any]) -> ListDocument:
    """``POST /.search`` at the root: users, then groups, as one positional list.

    The filter is bound to each resource type in turn; an attribute one type
    does not have makes the comparison false for it (RFC 7644 §3.4.2.1).
    """
    count = _page_size(scope.limits, search)
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
