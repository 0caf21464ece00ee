"""A directory's OAuth 2.0 clients: created, rotated and revoked by an administrator, and the
access tokens they obtain with the client credentials grant (RFC 6749 §4.4).

An IdP that speaks OAuth (Microsoft Entra's client-credentials option, PingFederate,
any generic SCIM client) holds a client id and secret instead of a static token,
and trades them at ``/oauth/token`` for an access token that opens the client's
directory for ``ACCESS_TOKEN_LIFETIME``. An access token is stored as a token is
(its SHA-256, in ``scim_tokens``, with its expiry and its client), so SCIM
requests authenticate with it exactly as with a static token. Revoking a client,
or giving it a new secret, revokes every access token it holds, in every server
process at its next request.
"""

import hmac
from datetime import timedelta

from sqlalchemy import Connection, Engine

from scimgate.records import frozen
from scimgate.service.administration.tenants import new_secret, token_hash
from scimgate.service.directories import existing_directory, pushed_directory
from scimgate.store import oauth_clients, tenants
from scimgate.store.ids import new_id, utcnow
from scimgate.store.oauth_clients import OAuthClient
from scimgate.store.tenants import TokenRecord
from scimgate.store.transactions import reading, writing

ACCESS_TOKEN_LIFETIME = timedelta(hours=1)
"""How long an access token opens its directory: clients obtain a new one as it expires."""

LIVE_TOKENS = 20
"""The most access tokens a client holds at once: obtaining another revokes the oldest, so a
client that asks for a token per request cannot fill the table."""

KEPT_EXPIRED = timedelta(hours=1)
"""How long an expired access token is kept: a late request hears that it expired."""


@frozen
class IssuedClient:
    """A client with its secret, as shown once: at creation and at each rotation."""

    client: OAuthClient
    secret: str


@frozen
class AccessToken:
    secret: str
    expires_in: int
    """Seconds until it expires."""


def create_client(engine: Engine, directory_id: str, name: str) -> IssuedClient:
    """A new client of a directory; ``UnknownDirectory`` for an unknown directory."""
    with writing(engine) as conn:
        pushed_directory(conn, directory_id)
        return add_client(conn, directory_id, name)


def add_client(conn: Connection, directory_id: str, name: str) -> IssuedClient:
    """A new client of a directory, inside the caller's transaction."""
    secret, hint = new_secret()
    client = OAuthClient(
        id=new_id(),
        directory_id=directory_id,
        name=name,
        hint=hint,
        created_at=utcnow(),
        rotated_at=None,
        revoked_at=None,
    )
    oauth_clients.insert(conn, client, token_hash(secret))
    return IssuedClient(client, secret)


def list_clients(engine: Engine, directory_id: str) -> list[OAuthClient]:
    """A directory's clients (never their secrets); ``UnknownDirectory`` for an unknown one."""
    with reading(engine) as conn:
        existing_directory(conn, directory_id)
        return oauth_clients.list_clients(conn, directory_id)


def rotate_secret(engine: Engine, directory_id: str, client_id: str) -> IssuedClient | None:
    """A new secret for an active client; the old secret and every access token obtained
    with it stop working at once. None when the directory has no such active client."""
    with writing(engine) as conn:
        return renew_secret(conn, directory_id, client_id)


def renew_secret(conn: Connection, directory_id: str, client_id: str) -> IssuedClient | None:
    """``rotate_secret`` inside the caller's transaction."""
    secret, hint = new_secret()
    now = utcnow()
    changed = oauth_clients.replace_secret(
        conn, directory_id, client_id, token_hash(secret), hint, now
    )
    if changed is None:
        return None
    oauth_clients.revoke_access_tokens(conn, directory_id, client_id, now)
    return IssuedClient(changed, secret)


def revoke_client(engine: Engine, directory_id: str, client_id: str) -> bool:
    """Revoke a client and every access token it holds; False when the directory has no such
    active client."""
    with writing(engine) as conn:
        now = utcnow()
        if not oauth_clients.revoke(conn, directory_id, client_id, now):
            return False
        oauth_clients.revoke_access_tokens(conn, directory_id, client_id, now)
    return True


def authenticated_client(engine: Engine, client_id: str, secret: str) -> OAuthClient | None:
    """The active client these credentials are of; None for any other pair."""
    with reading(engine) as conn:
        found = oauth_clients.find(conn, client_id)
    if found is None or found.client.revoked_at is not None:
        return None
    if not hmac.compare_digest(found.secret_hash, token_hash(secret)):
        return None
    return found.client


def issue_access_token(engine: Engine, client: OAuthClient) -> AccessToken | None:
    """A new access token for a client authenticated just now; None when it was revoked or
    given a new secret since. On the way, the client's tokens expired for ``KEPT_EXPIRED``
    are deleted, and its live tokens beyond ``LIVE_TOKENS`` revoked, oldest first."""
    secret, hint = new_secret()
    now = utcnow()
    record = TokenRecord(
        id=new_id(),
        directory_id=client.directory_id,
        name=f"access token of OAuth client {client.name}"[:200],
        hint=hint,
        created_at=now,
        last_used_at=None,
        revoked_at=None,
        expires_at=now + ACCESS_TOKEN_LIFETIME,
        oauth_client_id=client.id,
    )
    with writing(engine) as conn:
        found = oauth_clients.find(conn, client.id, lock=True)
        if found is None or found.client != client:  # revoked or rotated meanwhile
            return None
        oauth_clients.forget_expired(conn, client.directory_id, client.id, now - KEPT_EXPIRED)
        tenants.insert_token(conn, record, token_hash(secret))
        oauth_clients.revoke_all_but_newest(conn, client.directory_id, client.id, LIVE_TOKENS, now)
    return AccessToken(secret, int(ACCESS_TOKEN_LIFETIME.total_seconds()))
