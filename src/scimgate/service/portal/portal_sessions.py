"""Signing in to the portal: browser sessions opened by an admin key or a setup link.

A session's cookie holds a random secret; only its SHA-256 is stored. A
session ends when it has been idle too long, at its absolute limit, when its
owner signs out, or when the admin key or setup link that opened it is revoked.
Every session carries its own CSRF token for the forms it is shown.
"""

import hashlib
import hmac
import secrets
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import Engine

from scimgate.config import SessionPolicy
from scimgate.records import frozen
from scimgate.service.administration import admin_keys as keys
from scimgate.store import admin_keys, portal_sessions
from scimgate.store.ids import new_id, utcnow
from scimgate.store.portal_sessions import PortalSession
from scimgate.store.transactions import reading, writing

SESSION_PREFIX = "scimgate_session_"

SEEN_RESOLUTION = timedelta(minutes=1)
"""A session's last-seen time is written at most this often, so page views stay reads."""


@frozen
class OpenedSession:
    """A new session and the secret for its cookie, which is never seen again."""

    session: PortalSession
    secret: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def sign_in(
    engine: Engine, key: str, admin_token: str | None, policy: SessionPolicy
) -> OpenedSession:
    """Open an admin session with an admin key (or the operator's admin token).

    Raises ``UnauthorizedException`` with a reason for a wrong, unknown or revoked key.
    """
    actor = keys.authenticate(engine, f"Bearer {key.strip()}", admin_token)
    now = utcnow()
    return _open(
        engine,
        kind="admin",
        actor=actor.label,
        scope=actor.scope,
        admin_key_id=actor.key_id,
        setup_link_id=None,
        expires_at=now + policy.absolute,
    )


def open_setup_session(engine: Engine, setup_link_id: str, expires_at: datetime) -> OpenedSession:
    """A session for the browser that redeemed a setup link; it lasts as long as the link."""
    return _open(
        engine,
        kind="setup",
        actor=f"setup-link {setup_link_id}",
        scope="write",
        admin_key_id=None,
        setup_link_id=setup_link_id,
        expires_at=expires_at,
    )


def _open(
    engine: Engine,
    *,
    kind: str,
    actor: str,
    scope: str,
    admin_key_id: str | None,
    setup_link_id: str | None,
    expires_at: datetime,
) -> OpenedSession:
    secret = SESSION_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    session = PortalSession(
        id=new_id(),
        kind=kind,
        actor=actor[:200],
        scope=scope,
        admin_key_id=admin_key_id,
        setup_link_id=setup_link_id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=expires_at,
        ended_at=None,
    )
    with writing(engine) as conn:
        portal_sessions.insert_session(conn, session, _hash(secret))
    return OpenedSession(session, secret)


def resume(
    engine: Engine, secret: str | None, kind: str, policy: SessionPolicy, admin_token: str | None
) -> PortalSession | None:
    """The live session a cookie names, or None: unknown, ended, expired, idle or revoked.

    An admin session also ends when its key has been revoked, or, when it was
    opened with the operator's admin token, once that token is unset.
    """
    if not secret:
        return None
    now = utcnow()
    with reading(engine) as conn:
        session = portal_sessions.find_by_hash(conn, _hash(secret))
        key = (
            admin_keys.get_key(conn, session.admin_key_id)
            if session is not None and session.admin_key_id is not None
            else None
        )
    if session is None or session.kind != kind or session.ended_at is not None:
        return None
    if now >= session.expires_at:
        return None
    if kind == "admin":
        if now - session.last_seen_at >= policy.idle:
            return None
        if session.admin_key_id is None and not admin_token:
            return None
        if session.admin_key_id is not None and (key is None or key.revoked_at is not None):
            return None
    if now - session.last_seen_at >= SEEN_RESOLUTION:
        with writing(engine) as conn:
            portal_sessions.touch(conn, session.id, now)
        session = replace(session, last_seen_at=now)
    return session


def csrf_matches(session: PortalSession, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(session.csrf_token.encode(), given.encode())


def sign_out(engine: Engine, session: PortalSession) -> None:
    with writing(engine) as conn:
        portal_sessions.end(conn, session.id, utcnow())


def purge_expired(engine: Engine, now: datetime) -> int:
    """Forget sessions that ended or expired more than a day ago."""
    with writing(engine) as conn:
        return portal_sessions.purge(conn, now - timedelta(days=1))
