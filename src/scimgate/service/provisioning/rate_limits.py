"""Back-pressure for SCIM clients: token buckets per directory and per token.

An IdP that sends faster than its directory's limit gets ``429 Too Many
Requests`` with ``Retry-After``; Entra ID, Okta and the others back off and
retry, so a burst slows down instead of failing. Each bucket follows GCRA: a
sustained ``rate`` per second, with up to ``burst`` requests at once.

Refused credentials of any edge draw on one more bucket, per client address,
so that an anonymous flood is answered 429 cheaply and leaves few audit rows.

On PostgreSQL the buckets live in the database, so every server process (and
every host) shares them. On SQLite, where one process serves, they live in
that process's memory and cost no query.
"""

from collections.abc import Callable, Sequence
from threading import Lock
from time import monotonic

from scim2_models import UnauthorizedException
from sqlalchemy import Engine

from scimgate.config import Bucket, RateLimits
from scimgate.records import frozen
from scimgate.scim.errors import TooManyRequests
from scimgate.service.administration.tenants import Credential
from scimgate.service.provisioning.credentials import Credentials
from scimgate.store import rate_limits
from scimgate.store.transactions import autocommit

DIRECTORY_BUCKET = "directory"
NO_DIRECTORY = "00000000-0000-0000-0000-000000000000"
"""The directory id of client addresses' buckets, which belong to no directory."""


@frozen
class _Pace:
    """A bucket's limits in GCRA's terms."""

    interval: float
    """Seconds one request costs: ``1 / rate``."""

    tolerance: float
    """How far ahead of now a bucket may run: ``(burst - 1) * interval``."""

    @classmethod
    def of(cls, bucket: Bucket) -> "_Pace":
        interval = 1.0 / bucket.rate
        return cls(interval, (bucket.burst - 1) * interval)


@frozen
class _Limit:
    """A configured bucket: its pace, and how a refusal names it."""

    whose: str
    bucket: Bucket
    pace: _Pace

    @classmethod
    def of(cls, whose: str, bucket: Bucket | None) -> "_Limit | None":
        return cls(whose, bucket, _Pace.of(bucket)) if bucket else None


Admit = Callable[[str, Sequence[tuple[str, _Pace]]], tuple[int, float] | None]
"""Take one request from each of a directory's buckets in turn (bucket name, pace); ``None``
when all admit it, else the refusing bucket's position and the seconds to wait."""


class RateLimiter:
    """Admits or refuses each SCIM request of a process, by its directory and its token.

    It also paces refused credentials of every edge by client address.
    """

    def __init__(self, engine: Engine, limits: RateLimits) -> None:
        self._token = _Limit.of("requests for this token", limits.per_token)
        self._directory = _Limit.of("requests for this directory", limits.per_directory)
        self._anonymous = _Limit.of(
            "requests with missing or refused credentials from this address", limits.anonymous
        )
        shared = engine.dialect.name == "postgresql"
        self._admit: Admit = _in_database(engine) if shared else _in_memory()

    def check(self, directory_id: str, token_id: str) -> None:
        """Take the request from its token's bucket, then its directory's; refuse with 429."""
        named = [(f"token:{token_id}", self._token), (DIRECTORY_BUCKET, self._directory)]
        taken = [(name, limit) for name, limit in named if limit is not None]
        if not taken:
            return
        refused = self._admit(directory_id, [(name, limit.pace) for name, limit in taken])
        if refused is not None:
            position, wait = refused
            raise _refusal(taken[position][1], wait)

    def check_refused(self, client: str) -> None:
        """Take a request whose credentials were refused from its client address's bucket.

        Raises ``TooManyRequests`` once the address is over its limit; requests
        with valid credentials never draw on it.
        """
        limit = self._anonymous
        if limit is None:
            return
        refused = self._admit(NO_DIRECTORY, [(f"address:{client}"[:64], limit.pace)])
        if refused is not None:
            raise _refusal(limit, refused[1])


def _refusal(limit: _Limit, wait: float) -> TooManyRequests:
    return TooManyRequests(
        retry_after=wait,
        detail=(
            f"Too many {limit.whose}: at most {limit.bucket.rate:g} a second on "
            f"average, {limit.bucket.burst} at once. Retry after the number of seconds in "
            "Retry-After"
        ),
    )


def _in_database(engine: Engine) -> Admit:
    def admit(directory_id: str, buckets: Sequence[tuple[str, _Pace]]) -> tuple[int, float] | None:
        # One connection for every bucket: a checkout costs about as much as a bucket.
        with autocommit(engine) as conn:
            for position, (bucket, pace) in enumerate(buckets):
                wait = rate_limits.admit(conn, directory_id, bucket, pace.interval, pace.tolerance)
                if wait is not None:
                    return position, wait
        return None

    return admit


_FORGET_AFTER = 10_000
"""Buckets kept in memory before idle ones (back to full) are dropped."""


def _forget_idle(arrivals: dict[tuple[str, str], float], now: float) -> None:
    for key in [key for key, ahead in arrivals.items() if ahead <= now]:
        del arrivals[key]


def _in_memory() -> Admit:
    arrivals: dict[tuple[str, str], float] = {}
    lock = Lock()

    def admit(directory_id: str, buckets: Sequence[tuple[str, _Pace]]) -> tuple[int, float] | None:
        now = monotonic()
        with lock:
            if len(arrivals) > _FORGET_AFTER:
                _forget_idle(arrivals, now)
            for position, (bucket, pace) in enumerate(buckets):
                key = (directory_id, bucket)
                ahead = max(arrivals.get(key, now), now)
                if ahead - now > pace.tolerance:
                    return position, ahead - now - pace.tolerance
                arrivals[key] = ahead + pace.interval
        return None

    return admit


def admit(
    credentials: Credentials,
    limiter: RateLimiter,
    directory_id: str,
    authorization: str | None,
    client: str,
) -> Credential:
    """Authenticate a SCIM request for its directory, then take it from its buckets.

    A refused token is taken from its client address's bucket: 429 beyond it.
    """
    try:
        credential = credentials.authenticate(directory_id, authorization)
    except UnauthorizedException:
        limiter.check_refused(client)
        raise
    limiter.check(credential.directory.id, credential.token_id)
    return credential
