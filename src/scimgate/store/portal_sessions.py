"""Browser sessions of the portal: looked up by the hash of the cookie's secret."""

from datetime import datetime

from sqlalchemy import Connection, delete, or_, select, update

from scimgate.records import frozen
from scimgate.store.tables.access import portal_sessions


@frozen
class PortalSession:
    id: str
    kind: str
    """``admin`` (the SaaS team) or ``setup`` (a customer's IT admin behind a setup link)."""

    actor: str
    """How the audit log names who is signed in."""

    scope: str
    """``read`` or ``write``, as the admin key that opened it."""

    admin_key_id: str | None
    setup_link_id: str | None
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ended_at: datetime | None


def insert_session(conn: Connection, session: PortalSession, secret_hash: str) -> None:
    conn.execute(portal_sessions.insert().values(**vars(session), secret_hash=secret_hash))


def find_by_hash(conn: Connection, secret_hash: str) -> PortalSession | None:
    columns = [column for column in portal_sessions.c if column.name != "secret_hash"]
    row = conn.execute(select(*columns).where(portal_sessions.c.secret_hash == secret_hash)).first()
    return PortalSession(**row._mapping) if row is not None else None


def touch(conn: Connection, session_id: str, at: datetime) -> None:
    conn.execute(
        update(portal_sessions).where(portal_sessions.c.id == session_id).values(last_seen_at=at)
    )


def end(conn: Connection, session_id: str, at: datetime) -> None:
    conn.execute(
        update(portal_sessions)
        .where(portal_sessions.c.id == session_id, portal_sessions.c.ended_at.is_(None))
        .values(ended_at=at)
    )


def purge(conn: Connection, before: datetime) -> int:
    """Remove sessions that expired or ended before a time."""
    result = conn.execute(
        delete(portal_sessions).where(
            or_(portal_sessions.c.expires_at < before, portal_sessions.c.ended_at < before)
        )
    )
    return result.rowcount
