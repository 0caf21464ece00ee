"""Measures of many directories at once, for the portal's overview pages.

Each measure is one aggregate query grouped by ``directory_id`` over the
directories a ``Span`` covers (all of them, one organization's, or one), so a
page of a hundred directories costs a handful of queries, not hundreds. The
counts read the ``directory_id``-leading indexes; the request counts read only
the last day of the provisioning log, through its ``received_at`` index.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, case, func, select

from scimgate.records import frozen
from scimgate.store import membership_lists
from scimgate.store.column_codec import codec_of
from scimgate.store.membership_lists import Member
from scimgate.store.tables.logs import provisioning_logs
from scimgate.store.tables.resources import group_members, groups, resource_counts, users
from scimgate.store.tables.tenancy import directories, scim_tokens
from scimgate.store.tables.webhooks import webhook_deliveries
from scimgate.store.webhook_deliveries import PENDING


@frozen
class Span:
    """The directories a measure covers: one directory, or those of some organizations."""

    organization_ids: tuple[str, ...] = ()
    directory_id: str | None = None

    def covers(self, column: ColumnElement[Any]) -> ColumnElement[bool]:
        """The condition on a ``directory_id`` column that keeps rows of covered directories."""
        if self.directory_id is not None:
            return column == self.directory_id
        return column.in_(
            select(directories.c.id).where(directories.c.organization_id.in_(self.organization_ids))
        )


@frozen
class RequestCounts:
    """A directory's provisioning-log entries in a time window."""

    total: int
    failed: int
    """Answered with a status of 400 or more."""

    last_at: datetime | None
    syncs: int = 0
    """Of the entries, those of a pulled directory's syncs (one per sync, beside one per
    call to the source)."""

    failed_syncs: int = 0
    """Of those, the syncs that failed."""


def user_counts(conn: Connection, span: Span) -> dict[str, int]:
    """How many users each covered directory holds (directories without any are absent)."""
    return _totals(conn, span, "user")


def group_counts(conn: Connection, span: Span) -> dict[str, int]:
    return _totals(conn, span, "group")


def _totals(conn: Connection, span: Span, noun: str) -> dict[str, int]:
    counts = resource_counts.c
    rows = conn.execute(
        select(counts.directory_id, counts.total).where(
            span.covers(counts.directory_id), counts.resource_type == noun, counts.total > 0
        )
    )
    return {row[0]: int(row[1]) for row in rows}


def last_token_use(conn: Connection, span: Span) -> dict[str, datetime]:
    """When any of each directory's SCIM tokens last opened it (recorded to the minute)."""
    column = scim_tokens.c.directory_id
    rows = conn.execute(
        select(column, func.max(scim_tokens.c.last_used_at))
        .where(span.covers(column), scim_tokens.c.last_used_at.is_not(None))
        .group_by(column)
    )
    return {row[0]: row[1] for row in rows}


def request_counts(
    conn: Connection, span: Span, since: datetime, sync_method: str
) -> dict[str, RequestCounts]:
    """Each covered directory's logged requests since an instant: all, failed, the latest;
    and of them the entries of whole syncs, logged with the method ``sync_method``."""
    log = provisioning_logs.c
    column = log.directory_id
    failed = log.status >= 400
    sync = log.method == sync_method
    rows = conn.execute(
        select(
            column,
            func.count(),
            func.sum(case((failed, 1), else_=0)),
            func.max(log.received_at),
            func.sum(case((sync, 1), else_=0)),
            func.sum(case((sync & failed, 1), else_=0)),
        )
        .where(span.covers(column), log.received_at >= since)
        .group_by(column)
    )
    return {
        row[0]: RequestCounts(
            total=int(row[1]),
            failed=int(row[2] or 0),
            last_at=row[3],
            syncs=int(row[4] or 0),
            failed_syncs=int(row[5] or 0),
        )
        for row in rows
    }


def pending_deliveries(conn: Connection, span: Span) -> dict[str, int]:
    """Webhook deliveries not yet made, per directory the events came from (every endpoint)."""
    column = webhook_deliveries.c.directory_id
    rows = conn.execute(
        select(column, func.count())
        .where(webhook_deliveries.c.status == PENDING, span.covers(column))
        .group_by(column)
    )
    return {row[0]: int(row[1]) for row in rows}


def member_counts(conn: Connection, directory_id: str, group_ids: list[str]) -> dict[str, int]:
    """How many direct members (users and groups) each of these groups has."""
    counts = dict.fromkeys(group_ids, 0)
    if not group_ids:
        return counts
    gm = group_members.c
    rows = conn.execute(
        select(gm.group_id, func.count())
        .where(gm.directory_id == directory_id, gm.group_id.in_(group_ids))
        .group_by(gm.group_id)
    )
    counts.update({row[0]: int(row[1]) for row in rows})
    return counts


def members_page(
    conn: Connection, directory_id: str, group_id: str, limit: int, offset: int
) -> list[Member]:
    """One page of a group's direct members in id order, each with the name it displays."""
    gm = group_members.c
    member_user = users.alias("member_user")
    member_group = groups.alias("member_group")
    query = (
        select(
            gm.member_id,
            gm.member_type,
            gm.display,
            member_user.c.display_name,
            member_user.c.user_name,
            member_group.c.display_name,
        )
        .select_from(
            group_members.outerjoin(
                member_user,
                (member_user.c.id == gm.member_id)
                & (member_user.c.directory_id == gm.directory_id),
            ).outerjoin(
                member_group,
                (member_group.c.id == gm.member_id)
                & (member_group.c.directory_id == gm.directory_id),
            )
        )
        .where(gm.directory_id == directory_id, gm.group_id == group_id)
        .order_by(gm.member_id)
        .limit(limit)
        .offset(offset)
    )
    codec = codec_of(conn)
    found = []
    for member_id, member_type, display, user_display, user_name, group_display in conn.execute(
        query
    ):
        shown = (
            membership_lists.shown_name(
                codec,
                directory_id,
                group_id,
                member_id,
                display,
                user_display_name=user_display,
                user_name=user_name,
                group_display_name=group_display,
            )
            if codec.sealed
            else next(
                (name for name in (display, user_display, user_name, group_display) if name),
                None,
            )
        )
        found.append(Member(id=member_id, type=member_type, display=shown))
    return found
