"""Admin API keys: who may use the management API, and whether it may change anything.

A key is shown once, at creation, and stored only as its SHA-256, like a
directory's SCIM token. The operator's ``SCIMGATE_ADMIN_TOKEN`` stays valid
beside the keys: it is the bootstrap key, with write scope.
"""

import hashlib
import hmac
import secrets
from datetime import timedelta

from scim2_models import UnauthorizedException
from sqlalchemy import Engine

from scimgate.records import frozen
from scimgate.service.errors import Invalid
from scimgate.store import admin_keys
from scimgate.store.admin_keys import AdminKey
from scimgate.store.ids import new_id, utcnow
from scimgate.store.transactions import reading, writing

KEY_PREFIX = "scimgate_admin_"
"""Keys are recognisable, so that secret scanners and people can tell what leaked."""

WRITE_SCOPE = "write"
SCOPES = ("read", WRITE_SCOPE)
READ_METHODS = frozenset({"GET", "HEAD"})
"""The only methods a ``read`` key may use."""

LAST_USED_RESOLUTION = timedelta(minutes=1)
"""A key's last-used time is written at most this often, so reads stay reads."""

BOOTSTRAP_ACTOR = "admin-token"


@frozen
class IssuedKey:
    """A key as it is shown once, at creation: the secret is never shown again."""

    record: AdminKey
    secret: str


@frozen
class Actor:
    """Who made a management request."""

    label: str
    """How the audit log names it: ``admin-token`` or ``<key id> <key name>``."""

    scope: str
    key_id: str | None = None

    def may(self, method: str) -> bool:
        return self.scope == "write" or method.upper() in READ_METHODS


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(engine: Engine, name: str, scope: str) -> IssuedKey:
    """A new key; ``Invalid`` for an empty or overlong name or an unknown scope."""
    if scope not in SCOPES:
        raise Invalid(f"scope is one of {', '.join(SCOPES)}")
    if not name.strip() or len(name) > 200:
        raise Invalid("a key's name is 1 to 200 characters")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)  # 256 bits of entropy
    record = AdminKey(
        id=new_id(),
        name=name,
        hint=secret[: len(KEY_PREFIX) + 4],
        scope=scope,
        created_at=utcnow(),
        last_used_at=None,
        revoked_at=None,
    )
    with writing(engine) as conn:
        admin_keys.insert_key(conn, record, _hash(secret))
    return IssuedKey(record, secret)


def list_keys(engine: Engine) -> list[AdminKey]:
    with reading(engine) as conn:
        return admin_keys.list_keys(conn)


def revoke_key(engine: Engine, key_id: str) -> bool:
    """Revoke a key; False when there is no such active key."""
    with writing(engine) as conn:
        return admin_keys.revoke(conn, key_id, utcnow())


def authenticate(engine: Engine, authorization: str | None, admin_token: str | None) -> Actor:
    """The actor a management request's ``Authorization: Bearer`` header names.

    The operator's admin token is compared in constant time; any other bearer
    is looked up by its hash. Missing, unknown or revoked: a 401.
    """
    scheme, _, given = (authorization or "").partition(" ")
    secret = given.strip()
    if scheme.lower() != "bearer" or not secret:
        raise UnauthorizedException(detail="Send an admin key as 'Authorization: Bearer <key>'")
    if admin_token and hmac.compare_digest(secret.encode(), admin_token.encode()):
        return Actor(label=BOOTSTRAP_ACTOR, scope="write")
    with reading(engine) as conn:
        found = admin_keys.find_by_hash(conn, _hash(secret))
    if found is None or not hmac.compare_digest(found[1], _hash(secret)):
        raise UnauthorizedException(detail="The admin key is not valid")
    key, _ = found
    if key.revoked_at is not None:
        raise UnauthorizedException(detail="The admin key has been revoked")
    _note_use(engine, key)
    return Actor(label=f"{key.id} {key.name}"[:200], scope=key.scope, key_id=key.id)


def _note_use(engine: Engine, key: AdminKey) -> None:
    now = utcnow()
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_RESOLUTION:
        return
    with writing(engine) as conn:
        admin_keys.touch(conn, key.id, now)
