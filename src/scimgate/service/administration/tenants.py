"""Use cases on tenants: organizations, directories and their SCIM bearer tokens."""

import hashlib
import secrets
from datetime import datetime, timedelta

from scim2_models import UnauthorizedException
from sqlalchemy import Connection, Engine

from scimgate.records import frozen
from scimgate.scim.idp import IdpProfile, recognise
from scimgate.service.directories import existing_directory, pushed_directory
from scimgate.service.errors import NotUnique, UnknownOrganization
from scimgate.store import tenants
from scimgate.store.ids import is_id, new_id, utcnow
from scimgate.store.tenants import LIVE, Directory, Organization, TokenRecord
from scimgate.store.transactions import reading, writing

TOKEN_PREFIX = "scimgate_"
"""Tokens are recognisable, so that secret scanners and people can tell what leaked."""

LAST_USED_RESOLUTION = timedelta(minutes=1)
"""A token's last-used time is written at most this often (by each server process)."""


@frozen
class IssuedToken:
    """A token as it is shown once, at creation: the secret is never shown again."""

    record: TokenRecord
    secret: str


@frozen
class NewDirectory:
    directory: Directory
    token: IssuedToken


def token_hash(secret: str) -> str:
    """How a token is stored and looked up: its SHA-256, never the secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create_organization(engine: Engine, name: str) -> Organization:
    organization = Organization(id=new_id(), name=name, created_at=utcnow())
    with writing(engine) as conn:
        tenants.insert_organization(conn, organization)
    return organization


def ensure_organization(engine: Engine, name: str) -> Organization:
    """The organization with this name, created if there is none."""
    with writing(engine) as conn:
        found = tenants.find_organization_by_name(conn, name)
        if found is not None:
            return found
        organization = Organization(id=new_id(), name=name, created_at=utcnow())
        tenants.insert_organization(conn, organization)
    return organization


def create_directory(
    engine: Engine,
    organization_id: str,
    name: str,
    idp: IdpProfile = IdpProfile.generic,
    *,
    dry_run: bool = False,
) -> NewDirectory:
    """A directory (one identity-provider connection) with its first token.

    In a dry run, every event is held back until an administrator has reviewed
    the first sync and released (or discarded) them.
    """
    directory = Directory(
        id=new_id(),
        organization_id=organization_id,
        name=name,
        created_at=utcnow(),
        idp=idp,
        delivery="review" if dry_run else LIVE,
    )
    with writing(engine) as conn:
        if tenants.get_organization(conn, organization_id) is None:
            raise UnknownOrganization(organization_id)
        tenants.insert_directory(conn, directory)
        token = issue_token(conn, directory.id, "initial")
    return NewDirectory(directory, token)


def list_directories(engine: Engine) -> list[Directory]:
    with reading(engine) as conn:
        return tenants.list_directories(conn)


def find_organization(engine: Engine, id_or_name: str) -> Organization:
    """The organization with this id, else the one named exactly this.

    ``UnknownOrganization`` when there is none; ``NotUnique`` when several share the name,
    which only the id can tell apart.
    """
    with reading(engine) as conn:
        if is_id(id_or_name):
            found = tenants.get_organization(conn, id_or_name)
            if found is not None:
                return found
        named = tenants.organizations_named(conn, id_or_name, limit=2)
    if not named:
        raise UnknownOrganization(id_or_name)
    if len(named) > 1:
        raise NotUnique(f"several organizations are named {id_or_name!r}: give the id instead")
    return named[0]


def list_organizations(engine: Engine) -> list[Organization]:
    with reading(engine) as conn:
        return tenants.list_organizations(conn)


def organization_with_directories(
    engine: Engine, organization_id: str
) -> tuple[Organization, list[Directory]]:
    """An organization and its directories; ``UnknownOrganization`` for an unknown id."""
    with reading(engine) as conn:
        found = tenants.get_organization(conn, organization_id)
        if found is None:
            raise UnknownOrganization(organization_id)
        return found, tenants.organization_directories(conn, organization_id)


def create_token(engine: Engine, directory_id: str, name: str) -> IssuedToken:
    """Another active token for a directory: rotate by creating one, then revoking the old."""
    with writing(engine) as conn:
        pushed_directory(conn, directory_id)
        return issue_token(conn, directory_id, name)


def list_tokens(engine: Engine, directory_id: str) -> list[TokenRecord]:
    """A directory's tokens (never their secrets); ``UnknownDirectory`` for an unknown directory."""
    with reading(engine) as conn:
        existing_directory(conn, directory_id)
        return tenants.list_tokens(conn, directory_id)


def revoke_token(engine: Engine, directory_id: str, token_id: str) -> bool:
    with writing(engine) as conn:
        return tenants.revoke_token(conn, directory_id, token_id, utcnow())


def new_secret() -> tuple[str, str]:
    """A new secret (a token's, an OAuth client's) and the hint it is listed by."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)  # 256 bits of entropy
    return secret, secret[: len(TOKEN_PREFIX) + 4]


def issue_token(conn: Connection, directory_id: str, name: str) -> IssuedToken:
    """A new token for a directory, inside the caller's transaction."""
    secret, hint = new_secret()
    record = TokenRecord(
        id=new_id(),
        directory_id=directory_id,
        name=name,
        hint=hint,
        created_at=utcnow(),
        last_used_at=None,
        revoked_at=None,
    )
    tenants.insert_token(conn, record, token_hash(secret))
    return IssuedToken(record, secret)


@frozen
class TokenUse:
    """A token's last-used time, to be written (by the provisioning log's writer)."""

    directory_id: str
    token_id: str
    at: datetime


@frozen
class Credential:
    """Who a SCIM request is: the directory its token opens, and that token."""

    directory: Directory
    token_id: str
    use: TokenUse | None = None
    """The token's use to record, when its last-used time is due (once per resolution)."""

    stamp: int | None = None
    """The directory's credential stamp that ``directory`` was read at and this request's
    read found again: the row is as the database held it at that stamp. None when no stamp
    vouches for it."""


def record_use(conn: Connection, use: TokenUse) -> None:
    """Within a writing transaction: write a token's last-used time."""
    tenants.touch_token(conn, use.directory_id, use.token_id, use.at)


def note_client(
    engine: Engine, directory: Directory, user_agent: str | None, query: list[str]
) -> bool:
    """Remember which IdP a generic directory's requests come from, the first time it shows;
    whether it did (the directory's row changed)."""
    if directory.idp_detected is not None:
        return False
    recognised = recognise(user_agent, query)
    if recognised is None:
        return False
    with writing(engine) as conn:
        tenants.record_detected_idp(conn, directory.id, recognised)
    return True


def effective_idp(directory: Directory) -> IdpProfile:
    """The declared IdP, or else the recognised one, or else ``generic``."""
    if directory.idp != IdpProfile.generic:
        return IdpProfile(directory.idp)
    return IdpProfile(directory.idp_detected or IdpProfile.generic)


def bearer_secret(authorization: str | None) -> str:
    """The secret of an ``Authorization: Bearer`` header; 401 for a missing or malformed one."""
    scheme, _, credentials = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise UnauthorizedException(
            detail="Send the directory's token as 'Authorization: Bearer <token>'"
        )
    return credentials.strip()
