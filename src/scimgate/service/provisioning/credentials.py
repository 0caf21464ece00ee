"""Authenticating SCIM requests from memory: tokens a process has seen, checked by a stamp.

Reading a token and its directory for every request cost a read transaction
(about 90 µs of CPU on SQLite). A process keeps each token it has accepted,
with its directory's row, under the token's hash; a request with a known token
then reads one number: its directory's credential stamp, which database
triggers move whenever the directory's row changes or one of its tokens is
revoked (migration 0018). A stamp that moved drops the entry and the token is
read again, so a revocation, a rotation or a changed setting (delivery, safety
valve, IdP, extension schemas) takes effect at the next request in every
process, whichever process or tool made the change.

Unknown and refused tokens are never kept: each is read again, as before, and
paced by client address (``service.provisioning.rate_limits``). A token's last-used time is
not written here: it is handed on (``Credential.use``) for the provisioning log's
writer, so that a read writes nothing.
"""

import hmac
from dataclasses import dataclass
from datetime import datetime
from threading import Lock

from scim2_models import NotFoundException, UnauthorizedException
from sqlalchemy import Engine

from scimgate.service.administration.tenants import (
    LAST_USED_RESOLUTION,
    Credential,
    TokenUse,
    bearer_secret,
    token_hash,
)
from scimgate.store import tenants
from scimgate.store.ids import utcnow
from scimgate.store.stamps import StampReader
from scimgate.store.tenants import Directory
from scimgate.store.transactions import reading

CACHE_LIMIT = 10_000
"""Tokens kept per process; beyond, the cache starts empty again (each token is read anew)."""


NO_STAMP = -1
"""The stamp of a token read for a directory without one: it is not kept, and vouches for
nothing."""


class InvalidToken(UnauthorizedException):
    """A bearer token was sent, and it opens nothing: its answer's ``WWW-Authenticate`` says
    ``error="invalid_token"`` and why (RFC 6750 §3.1)."""


@dataclass
class _Known:
    """A token this process accepted, as it was when its directory's stamp was ``stamp``."""

    token_id: str
    directory: Directory
    stamp: int
    last_used_at: datetime | None
    """When the token's use was last written, by this process or as read."""

    expires_at: datetime | None = None
    """An OAuth client's access token expires; a static token does not."""


class Credentials:
    """The tokens one process has accepted, for one engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._known: dict[str, _Known] = {}
        self._stamps = StampReader(engine)
        self._touching = Lock()

    def close(self) -> None:
        """Give back the connection the stamps are read on (the server has stopped)."""
        self._stamps.close()

    def knows(self, authorization: str | None) -> bool:
        """Whether this process has accepted the request's token (it may be revoked since)."""
        scheme, _, secret = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and token_hash(secret.strip()) in self._known

    def authenticate(self, directory_id: str, authorization: str | None) -> Credential:
        """The directory a request may act on, from its URL and its bearer token.

        A missing, malformed, unknown or revoked token is a 401. A valid token
        used on another directory's URL is a 404, as if that directory did not
        exist, so a token reveals nothing about directories it does not open.
        """
        secret = bearer_secret(authorization)
        digest = token_hash(secret)
        known = self._known.get(digest)
        if known is not None and not self._still_valid(known):
            self._known.pop(digest, None)
            known = None
        if known is None:
            known = self._read(digest)
        if not hmac.compare_digest(known.directory.id, directory_id):
            if known.expires_at is not None:
                # The same answer whatever directory the URL names: it tells of none.
                raise InvalidToken(detail="The access token was issued for another directory")
            raise NotFoundException(detail=f"No directory {directory_id}")
        if known.expires_at is not None and utcnow() >= known.expires_at:
            raise InvalidToken(detail="The access token has expired: obtain a new one")
        # Read with the stamp just now, or kept from a read at the stamp just read again.
        stamp = known.stamp if known.stamp != NO_STAMP else None
        return Credential(known.directory, known.token_id, self._use(known), stamp)

    def _still_valid(self, known: _Known) -> bool:
        return self._stamps.read(known.directory.id) == known.stamp

    def _read(self, digest: str) -> _Known:
        with reading(self._engine) as conn:
            found = tenants.find_token_by_hash(conn, digest)
        if found is None or not hmac.compare_digest(found.stored_hash, digest):
            raise InvalidToken(detail="The bearer token is not valid for this service")
        if found.token.revoked_at is not None:
            raise InvalidToken(detail="The bearer token has been revoked")
        known = _Known(
            found.token.id,
            found.directory,
            NO_STAMP,
            found.token.last_used_at,
            found.token.expires_at,
        )
        if found.stamp is not None:  # a directory without a stamp is read at every request
            known.stamp = found.stamp
            if len(self._known) >= CACHE_LIMIT:
                self._known.clear()
            self._known[digest] = known
        return known

    def _use(self, known: _Known) -> TokenUse | None:
        """The token's use to record, at most once per resolution from this process."""
        now = utcnow()
        with self._touching:
            last = known.last_used_at
            if last is not None and now - last < LAST_USED_RESOLUTION:
                return None
            known.last_used_at = now
        return TokenUse(known.directory.id, known.token_id, now)
