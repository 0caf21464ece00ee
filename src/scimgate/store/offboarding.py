"""Deprovisioning records (proof of offboarding) and tombstones of deleted users.

With encryption at rest on, the user names they keep and a tombstone's last
state are stored encrypted, and decrypted when read.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, delete, func, select, tuple_, update

from scimgate.events.models import Deprovisioning, DeprovisionReason
from scimgate.store.column_codec import ColumnCodec, SealedColumns, codec_of
from scimgate.store.encryption import Keyring, Resealed, count_keys, key_id_of
from scimgate.store.tables.event_stream import held_events
from scimgate.store.tables.offboarding import deprovisionings, user_tombstones

NAME = "deprovisionings.user_name"
TOMBSTONE = "user_tombstones"

_RECORD_COLUMNS = [
    deprovisionings.c[name] for name in Deprovisioning.model_fields if name in deprovisionings.c
]


def record(conn: Connection, rows: Sequence[Deprovisioning]) -> None:
    if rows:
        codec = codec_of(conn)
        values = [row.model_dump() for row in rows]
        for each in values:
            each["user_name"] = codec.seal_optional(
                each["user_name"], NAME, each["directory_id"], each["id"]
            )
        conn.execute(deprovisionings.insert(), values)


def _records(codec: ColumnCodec, rows: Any) -> list[Deprovisioning]:
    found = []
    for row in rows:
        values = dict(row._mapping)
        values["user_name"] = codec.open_optional(
            values["user_name"], NAME, values["directory_id"], values["id"]
        )
        found.append(Deprovisioning(**values))
    return found


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
    unnotified = deprovisionings.c.notified_at.is_(None)
    return _update_announced(conn, event_ids, unnotified, notified_at=at, notified_via=via)


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
    unconfirmed = deprovisionings.c.confirmed_at.is_(None)
    return _update_announced(conn, event_ids, unconfirmed, confirmed_at=at, confirmed_via=via)


def discard(conn: Connection, event_ids: Sequence[str], at: datetime) -> int:
    """Deprovisionings whose held events were discarded: the app will never be told of them."""
    return _update_announced(conn, event_ids, discarded_at=at)


def _update_announced(
    conn: Connection, event_ids: Sequence[str], *where: ColumnElement[bool], **values: Any
) -> int:
    """Set ``values`` on the deprovisionings these events announced (those ``where`` holds)."""
    if not event_ids:
        return 0
    return conn.execute(
        update(deprovisionings)
        .where(deprovisionings.c.event_id.in_(event_ids), *where)
        .values(**values)
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
    return _records(codec_of(conn), rows)


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
    return _records(codec_of(conn), rows)


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
    codec = codec_of(conn)
    where = (directory_id, user_id)
    conn.execute(
        user_tombstones.insert().values(
            directory_id=directory_id,
            user_id=user_id,
            user_name=codec.seal_optional(user_name, f"{TOMBSTONE}.user_name", *where),
            external_id=codec.seal_optional(external_id, f"{TOMBSTONE}.external_id", *where),
            last_state=codec.seal_document(last_state, f"{TOMBSTONE}.last_state", *where),
            deleted_at=at,
        )
    )


def tombstone(conn: Connection, directory_id: str, user_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(user_tombstones.c.last_state).where(
            user_tombstones.c.directory_id == directory_id, user_tombstones.c.user_id == user_id
        )
    ).first()
    if row is None:
        return None
    place = f"{TOMBSTONE}.last_state"
    return dict(codec_of(conn).open_document(row.last_state, place, directory_id, user_id))


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


def name_key_census(conn: Connection) -> dict[str | None, int]:
    """How many deprovisioning records' user names each key id protects (None: plain)."""
    column = deprovisionings.c.user_name
    return count_keys(conn.execute(select(column).where(column.is_not(None))).scalars())


def tombstone_key_census(conn: Connection) -> dict[str | None, int]:
    """How many tombstones each key id protects (by their last state; None: plain)."""
    return count_keys(conn.execute(select(user_tombstones.c.last_state)).scalars())


def reseal_names(conn: Connection, keyring: Keyring, after: str, limit: int) -> Resealed[str]:
    """Encrypt up to ``limit`` deprovisioning user names (in id order, after ``after``)
    under the newest key."""
    c = deprovisionings.c
    rows = conn.execute(
        select(c.id, c.directory_id, c.user_name)
        .where(c.id > after)
        .order_by(c.id)
        .limit(limit)
        .with_for_update()
    ).all()
    changed = 0
    for record_id, directory_id, user_name in rows:
        if user_name is None or key_id_of(user_name) == keyring.newest.id:
            continue
        plain = keyring.open(user_name, NAME, directory_id, record_id)
        sealed = keyring.seal(plain, NAME, directory_id, record_id)
        conn.execute(update(deprovisionings).where(c.id == record_id).values(user_name=sealed))
        changed += 1
    return Resealed(rows[-1].id if rows else None, changed)


def reseal_tombstones(
    conn: Connection, keyring: Keyring, after: tuple[str, str], limit: int
) -> Resealed[tuple[str, str]]:
    """Encrypt up to ``limit`` tombstones (in key order, after ``after``) under the newest key."""
    c = user_tombstones.c
    rows = conn.execute(
        select(c.directory_id, c.user_id, c.user_name, c.external_id, c.last_state)
        .where(tuple_(c.directory_id, c.user_id) > tuple_(*after))
        .order_by(c.directory_id, c.user_id)
        .limit(limit)
        .with_for_update()
    ).all()
    sealed = SealedColumns(keyring)
    changed = 0
    for directory_id, user_id, user_name, external_id, last_state in rows:
        if key_id_of(last_state) == keyring.newest.id:
            continue
        where = (directory_id, user_id)
        values = {
            "user_name": sealed.open_optional(user_name, f"{TOMBSTONE}.user_name", *where),
            "external_id": sealed.open_optional(external_id, f"{TOMBSTONE}.external_id", *where),
        }
        state = keyring.open_document(last_state, f"{TOMBSTONE}.last_state", *where)
        conn.execute(
            update(user_tombstones)
            .where(c.directory_id == directory_id, c.user_id == user_id)
            .values(
                user_name=sealed.seal_optional(
                    values["user_name"], f"{TOMBSTONE}.user_name", *where
                ),
                external_id=sealed.seal_optional(
                    values["external_id"], f"{TOMBSTONE}.external_id", *where
                ),
                last_state=keyring.seal_document(state, f"{TOMBSTONE}.last_state", *where),
            )
        )
        changed += 1
    last = (rows[-1].directory_id, rows[-1].user_id) if rows else None
    return Resealed(last, changed)
