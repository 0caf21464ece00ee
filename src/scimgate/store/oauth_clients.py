"""A directory's OAuth 2.0 clients, and the access tokens they obtained (in ``scim_tokens``)."""

from datetime import datetime

from sqlalchemy import ColumnElement, Connection, delete, select, update

from scimgate.records import frozen
from scimgate.store.tables.tenancy import oauth_clients, scim_tokens


@frozen
class OAuthClient:
    """A client as listed: never its secret, nor the secret's hash."""

    id: str
    """Its ``client_id`` too."""

    directory_id: str
    name: str
    hint: str
    created_at: datetime
    rotated_at: datetime | None
    revoked_at: datetime | None


@frozen
class FoundClient:
    """A client found by its public ``client_id``, with its secret's stored hash."""

    client: OAuthClient
    secret_hash: str


_CLIENT_COLUMNS = [column for column in oauth_clients.c if column.name != "secret_hash"]


def insert(conn: Connection, client: OAuthClient, secret_hash: str) -> None:
    conn.execute(oauth_clients.insert().values(**vars(client), secret_hash=secret_hash))


def find(conn: Connection, client_id: str, *, lock: bool = False) -> FoundClient | None:
    """The client with this public id, revoked or not; ``lock`` holds its row until the
    transaction ends, so that a revocation or a rotation waits for a token being issued."""
    query = select(*_CLIENT_COLUMNS, oauth_clients.c.secret_hash).where(
        oauth_clients.c.id == client_id
    )
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        return None
    values = dict(row._mapping)
    secret_hash = values.pop("secret_hash")
    return FoundClient(OAuthClient(**values), secret_hash)


def list_clients(conn: Connection, directory_id: str) -> list[OAuthClient]:
    rows = conn.execute(
        select(*_CLIENT_COLUMNS)
        .where(oauth_clients.c.directory_id == directory_id)
        .order_by(oauth_clients.c.created_at, oauth_clients.c.id)
    )
    return [OAuthClient(**row._mapping) for row in rows]


def _active(directory_id: str, client_id: str) -> tuple[ColumnElement[bool], ...]:
    """The conditions naming an active client of a directory."""
    c = oauth_clients.c
    return (c.directory_id == directory_id, c.id == client_id, c.revoked_at.is_(None))


def _tokens_of(directory_id: str, client_id: str) -> tuple[ColumnElement[bool], ...]:
    """The conditions naming the access tokens a client of a directory obtained."""
    c = scim_tokens.c
    return (c.directory_id == directory_id, c.oauth_client_id == client_id)


def replace_secret(
    conn: Connection, directory_id: str, client_id: str, secret_hash: str, hint: str, at: datetime
) -> OAuthClient | None:
    """Give an active client a new secret; None when the directory has no such active client."""
    changed = conn.execute(
        update(oauth_clients)
        .where(*_active(directory_id, client_id))
        .values(secret_hash=secret_hash, hint=hint, rotated_at=at)
    )
    if changed.rowcount != 1:
        return None
    row = conn.execute(select(*_CLIENT_COLUMNS).where(oauth_clients.c.id == client_id)).one()
    return OAuthClient(**row._mapping)


def revoke(conn: Connection, directory_id: str, client_id: str, at: datetime) -> bool:
    """Revoke an active client of a directory; False when it has no such active client."""
    changed = conn.execute(
        update(oauth_clients).where(*_active(directory_id, client_id)).values(revoked_at=at)
    )
    return changed.rowcount == 1


def revoke_access_tokens(conn: Connection, directory_id: str, client_id: str, at: datetime) -> None:
    """Revoke every access token the client holds: the credential stamp's trigger then tells
    every process at its next request (migration 0018)."""
    live = (*_tokens_of(directory_id, client_id), scim_tokens.c.revoked_at.is_(None))
    conn.execute(update(scim_tokens).where(*live).values(revoked_at=at))


def forget_expired(conn: Connection, directory_id: str, client_id: str, before: datetime) -> None:
    """Delete the client's access tokens that expired before ``before``: they open nothing."""
    expired = scim_tokens.c.expires_at < before
    conn.execute(delete(scim_tokens).where(*_tokens_of(directory_id, client_id), expired))


def revoke_all_but_newest(
    conn: Connection, directory_id: str, client_id: str, keep: int, at: datetime
) -> None:
    """Revoke the client's live access tokens but the ``keep`` newest (ids grow with time)."""
    live = (*_tokens_of(directory_id, client_id), scim_tokens.c.revoked_at.is_(None))
    newest = select(scim_tokens.c.id).where(*live).order_by(scim_tokens.c.id.desc()).limit(keep)
    conn.execute(
        update(scim_tokens).where(*live, scim_tokens.c.id.not_in(newest)).values(revoked_at=at)
    )
