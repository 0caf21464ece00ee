"""Back-pressure for SCIM clients: token buckets per directory and per token.

An IdP that sends faster than its directory's limit gets ``429 Too Many
Requests`` with ``Retry-After``; Entra ID, Okta and the others back off and
retry, so a burst slows down instead of failing. Each bucket follows GCRA: a
sustained ``rate`` per second, with up to ``burst`` requests at once.

On PostgreSQL the buckets live in the database, so every server process (and
every host) shares them. On SQLite, where one process serves, they live in
that process's memory and cost no query.
"""

from collections.abc import Callable
from dataclasses import dataclass
from threading import Lock
from time import monotonic

from sqlalchemy import Engine

from scimgate.config import Bucket, RateLimits
from scimgate.scim.errors import TooManyRequests
from scimgate.service.tenants import authenticate
from scimgate.store import rate_limits
from scimgate.store.tenants import Directory
from scimgate.store.transactions import autocommit

DIRECTORY_BUCKET = "directory"


@dataclass(frozen=True)
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


Admit = Callable[[str, str, _Pace], float | None]
"""Take one request from the bucket (directory id, bucket name): ``None``, or seconds to wait."""


class RateLimiter:
    """Admits or refuses each SCIM request of a process, by its directory and its token."""

    def __init__(self, engine: Engine, limits: RateLimits) -> None:
        self.limits = limits
        self._directory = _Pace.of(limits.per_directory) if limits.per_directory else None
        self._token = _Pace.of(limits.per_token) if limits.per_token else None
        shared = engine.dialect.name == "postgresql"
        self._admit: Admit = _in_database(engine) if shared else _in_memory()
        self.needs_database = shared and self.enabled
        """Whether checking a request costs a query (callers run it off the event loop)."""

    @property
    def enabled(self) -> bool:
        return self._directory is not None or self._token is not None

    def check(self, directory_id: str, token_id: str) -> None:
        """Take the request from its token's bucket, then its directory's; refuse with 429."""
        if self._token is not None:
            wait = self._admit(directory_id, f"token:{token_id}", self._token)
            if wait is not None:
                raise _refusal("this token", self.limits.per_token, wait)
        if self._directory is not None:
            wait = self._admit(directory_id, DIRECTORY_BUCKET, self._directory)
            if wait is not None:
                raise _refusal("this directory", self.limits.per_directory, wait)


def _refusal(whose: str, bucket: Bucket | None, wait: float) -> TooManyRequests:
    assert bucket is not None
    return TooManyRequests(
        retry_after=wait,
        detail=(
            f"Too many requests for {whose}: at most {bucket.rate:g} a second on average, "
            f"{bucket.burst} at once. Retry after the number of seconds in Retry-After"
        ),
    )


def _in_database(engine: Engine) -> Admit:
    def admit(directory_id: str, bucket: str, pace: _Pace) -> float | None:
        with autocommit(engine) as conn:
            return rate_limits.admit(conn, directory_id, bucket, pace.interval, pace.tolerance)

    return admit


_FORGET_AFTER = 10_000
"""Buckets kept in memory before idle ones (back to full) are dropped."""


def _forget_idle(arrivals: dict[tuple[str, str], float], now: float) -> None:
    for key in [key for key, ahead in arrivals.items() if ahead <= now]:
        del arrivals[key]


def _in_memory() -> Admit:
    arrivals: dict[tuple[str, str], float] = {}
    lock = Lock()

    def admit(directory_id: str, bucket: str, pace: _Pace) -> float | None:
        key = (directory_id, bucket)
        now = monotonic()
        with lock:
            if len(arrivals) > _FORGET_AFTER:
                _forget_idle(arrivals, now)
            ahead = max(arrivals.get(key, now), now)
            if ahead - now > pace.tolerance:
                return ahead - now - pace.tolerance
            arrivals[key] = ahead + pace.interval
        return None

    return admit


def admit(
    engine: Engine, limiter: RateLimiter, directory_id: str, authorization: str | None
) -> Directory:
    """Authenticate a SCIM request for its directory, then take it from its buckets."""
    credential = authenticate(engine, directory_id, authorization)
    limiter.check(credential.directory.id, credential.token_id)
    return credential.directory
