"""Organizations, directories and the bearer tokens that open a directory."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update

from scimgate.records import frozen
from scimgate.store.errors import NotFound
from scimgate.store.prepared import Prepared
from scimgate.store.tables.tenancy import credential_stamps, directories, organizations, scim_tokens

LIVE = "live"
"""The delivery of a directory whose events are published as they happen (not held back)."""


@frozen
class Organization:
    id: str
    name: str
    created_at: datetime


@frozen
class Directory:
    id: str
    organization_id: str
    name: str
    created_at: datetime
    idp: str = "generic"
    """The identity provider declared for the directory."""

    idp_detected: str | None = None
    """The identity provider first recognised in the directory's requests."""

    schemas_revision: int = 0
    """Moves each time the directory's extension schemas change."""

    activated_at: datetime | None = None
    """When the first authenticated request from the IdP arrived."""

    delivery: str = LIVE
    """``live``; ``held`` when the safety valve tripped; ``review`` in dry-run mode."""

    held_since: datetime | None = None
    safety_max_count: int = 50
    """The safety valve trips on more deprovisionings than this within the window; 0: off."""

    safety_max_percent: int = 10
    """It trips on more than this share of the directory's users, in percent; 0: off."""

    safety_window_minutes: int = 60
    safety_reset_at: datetime | None = None
    """Deprovisionings before this instant no longer count (set when held events are released)."""

    assignment_group: str | None = None
    """Id of the group whose members are the app's users (chosen by display name, kept by id,
    so a rename changes nothing); leaving it deprovisions."""

    config_stamp: int = 0
    """A new random value with every change of the directory's role rules or attribute mappings."""

    kind: str = "scim"
    """``scim``: its IdP pushes; ``google``: scimgate pulls it from Google Workspace."""


@frozen
class TokenRecord:
    id: str
    directory_id: str
    name: str
    hint: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    expires_at: datetime | None = None
    """Set on an OAuth client's access token only: a static token does not expire."""

    oauth_client_id: str | None = None
    """The OAuth client (``oauth_clients.id``) that obtained this access token, if any."""


def insert_organization(conn: Connection, organization: Organization) -> None:
    conn.execute(organizations.insert().values(**vars(organization)))


def list_organizations(conn: Connection) -> list[Organization]:
    rows = conn.execute(select(organizations).order_by(organizations.c.name, organizations.c.id))
    return [Organization(**row._mapping) for row in rows]


def organizations_page(
    conn: Connection, name_contains: str | None, offset: int, limit: int
) -> tuple[int, list[Organization]]:
    """A page of organizations by name (optionally those whose name contains a text), and how
    many match."""
    matching = select(organizations)
    if name_contains:
        matching = matching.where(
            func.lower(organizations.c.name).contains(name_contains.lower(), autoescape=True)
        )
    total = conn.execute(select(func.count()).select_from(matching.subquery())).scalar_one()
    rows = conn.execute(
        matching.order_by(organizations.c.name, organizations.c.id).offset(offset).limit(limit)
    )
    return total, [Organization(**row._mapping) for row in rows]


def organizations_directories(conn: Connection, organization_ids: Sequence[str]) -> list[Directory]:
    """The directories of some organizations."""
    rows = conn.execute(
        select(directories)
        .where(directories.c.organization_id.in_(organization_ids))
        .order_by(directories.c.id)
    )
    return [Directory(**row._mapping) for row in rows]


def get_organization(conn: Connection, organization_id: str) -> Organization | None:
    row = conn.execute(select(organizations).where(organizations.c.id == organization_id)).first()
    return Organization(**row._mapping) if row else None


def organizations_named(conn: Connection, name: str, *, limit: int) -> list[Organization]:
    """Organizations whose name is exactly ``name``, at most ``limit`` of them."""
    rows = conn.execute(
        select(organizations)
        .where(organizations.c.name == name)
        .order_by(organizations.c.id)
        .limit(limit)
    )
    return [Organization(**row._mapping) for row in rows]


def find_organization_by_name(conn: Connection, name: str) -> Organization | None:
    row = conn.execute(
        select(organizations).where(organizations.c.name == name).order_by(organizations.c.id)
    ).first()
    return Organization(**row._mapping) if row else None


def insert_directory(conn: Connection, directory: Directory) -> None:
    conn.execute(directories.insert().values(**vars(directory)))


def get_directory(conn: Connection, directory_id: str) -> Directory | None:
    row = conn.execute(select(directories).where(directories.c.id == directory_id)).first()
    return Directory(**row._mapping) if row else None


LOCKED_DIRECTORY = (
    select(directories)
    .where(directories.c.id == bindparam("directory_id"))
    .with_for_update(key_share=True)
)
"""The directory ``directory_id``, its row locked (see :func:`lock_directory`)."""

_LOCK_DIRECTORY = Prepared(LOCKED_DIRECTORY)
"""Built once: taken by every change."""


def lock_directory(conn: Connection, directory_id: str, seen: Directory | None = None) -> Directory:
    """The directory, its row held until the transaction ends: one publisher at a time.

    ``FOR NO KEY UPDATE``, not ``FOR UPDATE``: every insert of a row that
    references the directory (users, groups, events...) takes a key-share lock
    on it, which ``FOR UPDATE`` would wait for, so two transactions that both
    wrote to the directory would deadlock when each came to publish. ``NotFound``
    for an id that names no directory.

    On SQLite a writing transaction holds the whole database from its ``BEGIN
    IMMEDIATE`` on: there is no row lock to take, and nobody else can have
    changed the row since the transaction read it. A caller holding the row as
    its own transaction last read or wrote it passes it as ``seen``, and it is
    not read again. PostgreSQL always reads and locks it here, at the end of
    the transaction: taken earlier, before the transaction's row locks, the
    directory's lock would close a cycle with a writer that holds one of those
    rows and waits to publish.
    """
    if seen is not None and conn.dialect.name == "sqlite":
        return seen
    row = _LOCK_DIRECTORY.first_mapping(conn, {"directory_id": directory_id})
    if row is None:
        raise NotFound("directory", directory_id)
    return Directory(**row)


def update_directory(conn: Connection, directory_id: str, **values: Any) -> None:
    """Change a directory's settings or delivery state (column names as in ``Directory``)."""
    conn.execute(update(directories).where(directories.c.id == directory_id).values(**values))


def activate(conn: Connection, directory_id: str, at: datetime) -> bool:
    """Mark the directory activated; True only for the request that did it first."""
    result = conn.execute(
        update(directories)
        .where(directories.c.id == directory_id, directories.c.activated_at.is_(None))
        .values(activated_at=at)
    )
    return result.rowcount == 1


def existing_directory(conn: Connection, directory_id: str) -> Directory:
    """The directory, or ``NotFound`` for an id that names none (a caller's mistake)."""
    found = get_directory(conn, directory_id)
    if found is None:
        raise NotFound("directory", directory_id)
    return found


def record_detected_idp(conn: Connection, directory_id: str, idp: str) -> None:
    """Remember the first IdP recognised for a directory; a later guess never overwrites it."""
    conn.execute(
        update(directories)
        .where(directories.c.id == directory_id, directories.c.idp_detected.is_(None))
        .values(idp_detected=idp)
    )


def organization_directories(conn: Connection, organization_id: str) -> list[Directory]:
    return organizations_directories(conn, [organization_id])


def list_directories(conn: Connection) -> list[Directory]:
    rows = conn.execute(select(directories).order_by(directories.c.id))
    return [Directory(**row._mapping) for row in rows]


def insert_token(conn: Connection, token: TokenRecord, secret_hash: str) -> None:
    conn.execute(scim_tokens.insert().values(**vars(token), secret_hash=secret_hash))


@frozen
class FoundToken:
    """A token found by its hash, with the hash as stored and the directory it opens."""

    token: TokenRecord
    stored_hash: str
    directory: Directory
    stamp: int | None
    """The directory's credential stamp, read with the token (None before it has one)."""


_TOKEN_COLUMNS = [column for column in scim_tokens.c if column.name != "secret_hash"]
_TOKEN_BY_HASH = (
    select(*_TOKEN_COLUMNS, scim_tokens.c.secret_hash, credential_stamps.c.version, *directories.c)
    .join(directories, directories.c.id == scim_tokens.c.directory_id)
    .outerjoin(credential_stamps, credential_stamps.c.directory_id == directories.c.id)
    .where(scim_tokens.c.secret_hash == bindparam("secret_hash"))
)
"""Built once: read by a SCIM request whose token this process does not know yet."""


def find_token_by_hash(conn: Connection, secret_hash: str) -> FoundToken | None:
    """The token stored under a hash, read with its directory and its stamp in one query."""
    row = conn.execute(_TOKEN_BY_HASH, {"secret_hash": secret_hash}).first()
    if row is None:
        return None
    values = tuple(row)
    width = len(_TOKEN_COLUMNS)
    token = TokenRecord(**dict(zip((c.name for c in _TOKEN_COLUMNS), values[:width], strict=True)))
    directory = Directory(
        **dict(zip((c.name for c in directories.c), values[width + 2 :], strict=True))
    )
    return FoundToken(token, values[width], directory, values[width + 1])


def list_tokens(conn: Connection, directory_id: str) -> list[TokenRecord]:
    rows = conn.execute(
        select(scim_tokens)
        .where(
            scim_tokens.c.directory_id == directory_id,
            # Access tokens of OAuth clients come and go by the hour: their clients are listed.
            scim_tokens.c.oauth_client_id.is_(None),
        )
        .order_by(scim_tokens.c.created_at, scim_tokens.c.id)
    )
    return [
        TokenRecord(**{k: v for k, v in r._mapping.items() if k != "secret_hash"}) for r in rows
    ]


def revoke_token(conn: Connection, directory_id: str, token_id: str, at: datetime) -> bool:
    """Revoke a token of a directory; False when it has no such active token."""
    result = conn.execute(
        update(scim_tokens)
        .where(
            scim_tokens.c.directory_id == directory_id,
            scim_tokens.c.id == token_id,
            scim_tokens.c.revoked_at.is_(None),
        )
        .values(revoked_at=at)
    )
    return result.rowcount == 1


def touch_token(conn: Connection, directory_id: str, token_id: str, at: datetime) -> None:
    conn.execute(
        update(scim_tokens)
        .where(scim_tokens.c.directory_id == directory_id, scim_tokens.c.id == token_id)
        .values(last_used_at=at)
    )
