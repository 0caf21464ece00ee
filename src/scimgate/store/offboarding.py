"""Deprovisioning records (proof of offboarding) and tombstones of deleted users."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, select, update

from scimgate.events.models import Deprovisioning, DeprovisionReason
from scimgate.store.tables import deprovisionings, held_events, user_tombstones

_RECORD_COLUMNS = [
    deprovisionings.c[name] for name in Deprovisioning.model_fields if name in deprovisionings.c
]


def record(conn: Connection, rows: Sequence[Deprovisioning]) -> None:
    if rows:
        conn.execute(deprovisionings.insert(), [row.model_dump() for row in rows])


def count_since(
    conn: Connection, directory_id: str, since: datetime, reason: DeprovisionReason | None = None
) -> int:
    """Deprovisionings the IdP asked for since a time (the safety valve's window)."""
    query = (
        select(func.count())
        .select_from(deprovisionings)
        .where(
            deprovisionings.c.directory_id == directory_id,
            deprovisionings.c.requested_at >= since,
        )
    )
    if reason is not None:
        query = query.where(deprovisionings.c.reason == reason.value)
    return int(conn.execute(query).scalar_one())


def mark_notified(conn: Connection, event_ids: Sequence[str], at: datetime, via: str) -> int:
    """The app was told of these events (first time only)."""
    if not event_ids:
        return 0
    return conn.execute(
        update(deprovisionings)
        .where(deprovisionings.c.event_id.in_(event_ids), deprovisionings.c.notified_at.is_(None))
        .values(notified_at=at, notified_via=via)
    ).rowcount


def confirm_user(
    conn: Connection, directory_id: str, user_id: str, at: datetime, via: str
) -> list[str]:
    """The app revoked the user's access: confirm every open deprovisioning of the user."""
    condition = and_(
        deprovisionings.c.directory_id == directory_id,
        deprovisionings.c.user_id == user_id,
        deprovisionings.c.confirmed_at.is_(None),
        deprovisionings.c.discarded_at.is_(None),
    )
    ids = list(conn.execute(select(deprovisionings.c.id).where(condition)).scalars())
    if ids:
        conn.execute(
            update(deprovisionings)
            .where(deprovisionings.c.id.in_(ids))
            .values(confirmed_at=at, confirmed_via=via)
        )
    return ids


def confirm_events(conn: Connection, event_ids: Sequence[str], at: datetime, via: str) -> int:
    """Confirm the deprovisionings these events announced (a revocation hook answered 2xx)."""
    if not event_ids:
        return 0
    return conn.execute(
        update(deprovisionings)
        .where(deprovisionings.c.event_id.in_(event_ids), deprovisionings.c.confirmed_at.is_(None))
        .values(confirmed_at=at, confirmed_via=via)
    ).rowcount


def discard(conn: Connection, event_ids: Sequence[str], at: datetime) -> int:
    """Deprovisionings whose held events were discarded: the app will never be told of them."""
    if not event_ids:
        return 0
    return conn.execute(
        update(deprovisionings)
        .where(deprovisionings.c.event_id.in_(event_ids))
        .values(discarded_at=at)
    ).rowcount


def report(
    conn: Connection,
    organization_id: str,
    since: datetime,
    until: datetime,
    directory_id: str | None = None,
) -> list[Deprovisioning]:
    query = select(*_RECORD_COLUMNS).where(
        deprovisionings.c.organization_id == organization_id,
        deprovisionings.c.requested_at >= since,
        deprovisionings.c.requested_at < until,
    )
    if directory_id is not None:
        query = query.where(deprovisionings.c.directory_id == directory_id)
    rows = conn.execute(query.order_by(deprovisionings.c.requested_at, deprovisionings.c.id))
    return [Deprovisioning(**row._mapping) for row in rows]


def overdue(conn: Connection, requested_before: datetime, limit: int) -> list[Deprovisioning]:
    """Unconfirmed deprovisionings older than the threshold that raised no alert yet.

    Locked (skipping rows another worker holds), so two workers never alert twice.
    Those whose event is still held back are not due: the app has not been told,
    and an alert would tell it what the safety valve holds.
    """
    still_held = select(held_events.c.id).where(held_events.c.id == deprovisionings.c.event_id)
    rows = conn.execute(
        select(*_RECORD_COLUMNS)
        .where(
            deprovisionings.c.requested_at < requested_before,
            deprovisionings.c.confirmed_at.is_(None),
            deprovisionings.c.alerted_at.is_(None),
            deprovisionings.c.discarded_at.is_(None),
            ~still_held.exists(),
        )
        .order_by(deprovisionings.c.requested_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [Deprovisioning(**row._mapping) for row in rows]


def mark_alerted(conn: Connection, ids: Sequence[str], at: datetime) -> None:
    if ids:
        conn.execute(
            update(deprovisionings).where(deprovisionings.c.id.in_(ids)).values(alerted_at=at)
        )


def forget_user_name(conn: Connection, directory_id: str, user_id: str) -> None:
    """Erasure: the record keeps its ids and times (the evidence), not the person's name."""
    conn.execute(
        update(deprovisionings)
        .where(deprovisionings.c.directory_id == directory_id, deprovisionings.c.user_id == user_id)
        .values(user_name=None)
    )


def bury(
    conn: Connection,
    directory_id: str,
    user_id: str,
    user_name: str | None,
    external_id: str | None,
    last_state: dict[str, Any],
    at: datetime,
) -> None:
    """Keep a deleted user's last state (for audit) until the retention purges it."""
    conn.execute(
        user_tombstones.insert().values(
            directory_id=directory_id,
            user_id=user_id,
            user_name=user_name,
            external_id=external_id,
            last_state=last_state,
            deleted_at=at,
        )
    )


def tombstone(conn: Connection, directory_id: str, user_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(user_tombstones.c.last_state).where(
            user_tombstones.c.directory_id == directory_id, user_tombstones.c.user_id == user_id
        )
    ).first()
    return dict(row.last_state) if row else None


def remove_tombstone(conn: Connection, directory_id: str, user_id: str) -> int:
    return conn.execute(
        delete(user_tombstones).where(
            user_tombstones.c.directory_id == directory_id, user_tombstones.c.user_id == user_id
        )
    ).rowcount


def purge_tombstones(conn: Connection, deleted_before: datetime) -> int:
    return conn.execute(
        delete(user_tombstones).where(user_tombstones.c.deleted_at < deleted_before)
    ).rowcount
