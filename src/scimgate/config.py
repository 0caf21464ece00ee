"""Settings, read from ``SCIMGATE_*`` environment variables (flags override them)."""

import ipaddress
import os
from dataclasses import dataclass, field

DEFAULT_DATABASE_URL = "sqlite:///scimgate.db"


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw else default


@dataclass(frozen=True)
class Limits:
    """What the SCIM endpoint accepts, advertised in ``/ServiceProviderConfig``."""

    max_results: int = 1000
    """The largest page a list or search returns (``filter.maxResults``)."""

    default_count: int = 100
    """The page size when a request does not name ``count``."""

    max_payload_bytes: int = 1_048_576
    """The largest request body, and ``bulk.maxPayloadSize``."""

    max_bulk_operations: int = 1000
    """``bulk.maxOperations``."""

    max_filter_length: int = 4096
    """The longest filter expression accepted, in characters."""

    max_filter_terms: int = 100
    """The most comparisons (``pr`` included) one filter may make."""

    max_attribute_names: int = 100
    """The most distinct names one ``attributes`` or ``excludedAttributes`` may list."""

    confirmation_interval: float = 60.0
    """Seconds within which a resource the IdP sends again is not re-marked as confirmed."""

    max_members_per_request: int = 20_000
    """The most group members one request (or Bulk operation) may add, remove or list.

    Each member changed is a row and an event written in the request's
    transaction, during which SQLite lets no other directory write. About as
    many bare member ids as a 1 MB body holds: no IdP's request within the
    default body limit is refused (Entra sends a few members per PATCH, Okta a
    group's whole list when it pushes it).
    """


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_HOSTS_VARIABLE = "SCIMGATE_WEBHOOK_ALLOWED_HOSTS"

LEASE_SHARE = 0.5
"""The most of a lease one webhook attempt may take: the rest covers recording the outcome
and the clocks of two workers disagreeing a little."""


@dataclass(frozen=True)
class AllowedHosts:
    """Non-public webhook destinations allowed all the same (``SCIMGATE_WEBHOOK_ALLOWED_HOSTS``).

    By default webhooks go only to public addresses. The operator may name
    host names (matched exactly, without case), addresses and CIDR ranges that
    are allowed all the same: a receiver on the same machine or network.
    """

    names: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, raw: str) -> "AllowedHosts":
        """Comma-separated host names, addresses and CIDR ranges, e.g. ``localhost,10.0.0.0/8``."""
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in (part.strip() for part in raw.split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            name = entry.lower().rstrip(".")
            if "/" in name or not all(
                label and len(label) <= 63 and label.replace("-", "").replace("_", "").isalnum()
                for label in name.split(".")
            ):
                raise ValueError(
                    f"{ALLOWED_HOSTS_VARIABLE}: {entry!r} is neither a host name, "
                    "an IP address nor a CIDR range"
                )
            names.add(name)
        return cls(frozenset(names), tuple(dict.fromkeys(networks)))


@dataclass(frozen=True)
class EventSettings:
    """How long events and deleted users are kept, and when offboarding is overdue."""

    retention_days: float = 30.0
    """Published events older than this are removed; cursors before them expire."""

    tombstone_days: float = 30.0
    """Deleted users' tombstones are purged after this."""

    offboarding_alert_minutes: float = 60.0
    """A deprovisioning the app has not confirmed after this raises ``offboarding.overdue``."""

    webhook_timeout: float = 10.0
    """Seconds one delivery attempt may take in all: connecting, sending, the whole answer."""

    lease_seconds: float = 60.0
    """How long a worker owns a delivery it took; a dead worker's deliveries are retried after."""

    webhook_allowed_hosts: AllowedHosts = field(default_factory=AllowedHosts)
    """Non-public webhook destinations the operator allows (``SCIMGATE_WEBHOOK_ALLOWED_HOSTS``)."""

    def __post_init__(self) -> None:
        # An attempt that outlived its lease would let another worker send the same delivery.
        if not 0 < self.webhook_timeout <= self.lease_seconds * LEASE_SHARE:
            raise ValueError(
                f"SCIMGATE_WEBHOOK_TIMEOUT ({self.webhook_timeout:g} s) must be above 0 and at "
                f"most {LEASE_SHARE:.0%} of SCIMGATE_LEASE_SECONDS ({self.lease_seconds:g} s), "
                "so that a delivery attempt always ends while its worker still holds the lease"
            )


@dataclass(frozen=True)
class PoolSettings:
    """Connections each process keeps to PostgreSQL (SQLite opens its file as needed)."""

    size: int = 10
    """``SCIMGATE_DB_POOL_SIZE``: connections kept open."""

    overflow: int = 20
    """``SCIMGATE_DB_MAX_OVERFLOW``: extra connections opened under load, closed after."""

    timeout: float = 10.0
    """``SCIMGATE_DB_POOL_TIMEOUT``: seconds a request waits for a connection before a 503."""

    @classmethod
    def from_env(cls) -> "PoolSettings":
        return cls(
            size=_env_int("SCIMGATE_DB_POOL_SIZE", cls.size),
            overflow=_env_int("SCIMGATE_DB_MAX_OVERFLOW", cls.overflow),
            timeout=_env_float("SCIMGATE_DB_POOL_TIMEOUT", cls.timeout),
        )


@dataclass(frozen=True)
class Bucket:
    """A token bucket: ``rate`` requests a second on average, bursts of up to ``burst``."""

    rate: float
    burst: int

    @classmethod
    def from_env(cls, prefix: str, default: "Bucket | None") -> "Bucket | None":
        """``<prefix>_RATE`` (0 turns the limit off) and ``<prefix>_BURST``."""
        rate = _env_float(f"{prefix}_RATE", default.rate if default else 0.0)
        if rate <= 0:
            return None
        burst = _env_int(f"{prefix}_BURST", default.burst if default else 0)
        return cls(rate=rate, burst=max(burst, 1))


@dataclass(frozen=True)
class RateLimits:
    """How fast SCIM clients may call, per directory and per token (``None``: no limit).

    The defaults let a 10,000-user initial sync (a lookup and a create per user)
    finish in under four minutes, while one runaway client cannot take the
    service from every other customer.
    """

    per_directory: Bucket | None = Bucket(rate=100.0, burst=200)
    """``SCIMGATE_DIRECTORY_RATE`` / ``SCIMGATE_DIRECTORY_BURST``."""

    per_token: Bucket | None = Bucket(rate=100.0, burst=200)
    """``SCIMGATE_TOKEN_RATE`` / ``SCIMGATE_TOKEN_BURST``."""

    anonymous: Bucket | None = Bucket(rate=1.0, burst=30)
    """``SCIMGATE_ANONYMOUS_RATE`` / ``SCIMGATE_ANONYMOUS_BURST``: refused credentials.

    Per client address, over every edge (SCIM tokens, the management API, the
    portal's sign-in and setup pages): beyond it a client is answered 429
    instead of having its credentials checked and its refusal audited.
    """

    @classmethod
    def from_env(cls) -> "RateLimits":
        return cls(
            per_directory=Bucket.from_env("SCIMGATE_DIRECTORY", cls.per_directory),
            per_token=Bucket.from_env("SCIMGATE_TOKEN", cls.per_token),
            anonymous=Bucket.from_env("SCIMGATE_ANONYMOUS", cls.anonymous),
        )


@dataclass(frozen=True)
class BodyLimits:
    """The largest request body of the routes outside SCIM, in bytes (SCIM's is in ``Limits``).

    A larger body is answered 413 before it is read; the management API reads
    none before its credentials are checked.
    """

    management: int = 65_536
    """``SCIMGATE_MAX_API_BODY_BYTES``: the management API and every other non-portal route."""

    portal: int = 65_536
    """``SCIMGATE_MAX_FORM_BODY_BYTES``: the portal's and the setup pages' forms."""

    @classmethod
    def from_env(cls) -> "BodyLimits":
        return cls(
            management=_env_int("SCIMGATE_MAX_API_BODY_BYTES", cls.management),
            portal=_env_int("SCIMGATE_MAX_FORM_BODY_BYTES", cls.portal),
        )


@dataclass(frozen=True)
class MetricsSettings:
    """Who may scrape ``/metrics``, and what it shows."""

    token: str | None = None
    """``SCIMGATE_METRICS_TOKEN``: the bearer token a scrape must send; unset, /metrics is off."""

    directory_labels: bool = False
    """``SCIMGATE_METRICS_DIRECTORY_LABELS=1``: count SCIM requests per directory id.

    Off, counts are aggregated over directories, so that a scrape names none.
    """

    @classmethod
    def from_env(cls) -> "MetricsSettings":
        labels = os.environ.get("SCIMGATE_METRICS_DIRECTORY_LABELS", "").strip().lower()
        return cls(
            token=os.environ.get("SCIMGATE_METRICS_TOKEN") or None,
            directory_labels=labels in ("1", "true", "yes", "on"),
        )


@dataclass(frozen=True)
class Settings:
    """The configuration of one scimgate process."""

    database_url: str = DEFAULT_DATABASE_URL
    """``SCIMGATE_DATABASE_URL``: an SQLite file (default) or ``postgresql+psycopg://…``."""

    public_url: str | None = None
    """``SCIMGATE_PUBLIC_URL``: the external base URL behind a proxy; else from each request."""

    admin_token: str | None = None
    """``SCIMGATE_ADMIN_TOKEN``: opens the management API (``/api/v1``); closed when unset."""

    limits: Limits = field(default_factory=Limits)
    events: EventSettings = field(default_factory=EventSettings)
    pool: PoolSettings = field(default_factory=PoolSettings)
    rate_limits: RateLimits = field(default_factory=RateLimits)
    body_limits: BodyLimits = field(default_factory=BodyLimits)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)

    encryption_keys: tuple[str, ...] = ()
    """``SCIMGATE_ENCRYPTION_KEYS``: comma-separated ``<key id>:<base64 key>``, newest first.

    Empty: stored documents are plain. The first key encrypts; every key decrypts.
    """

    @classmethod
    def from_env(cls) -> "Settings":
        defaults = Limits()
        event_defaults = EventSettings()
        return cls(
            database_url=os.environ.get("SCIMGATE_DATABASE_URL", DEFAULT_DATABASE_URL),
            public_url=os.environ.get("SCIMGATE_PUBLIC_URL") or None,
            admin_token=os.environ.get("SCIMGATE_ADMIN_TOKEN") or None,
            limits=Limits(
                max_results=_env_int("SCIMGATE_MAX_RESULTS", defaults.max_results),
                default_count=_env_int("SCIMGATE_DEFAULT_COUNT", defaults.default_count),
                max_payload_bytes=_env_int(
                    "SCIMGATE_MAX_PAYLOAD_BYTES", defaults.max_payload_bytes
                ),
                max_bulk_operations=_env_int(
                    "SCIMGATE_MAX_BULK_OPERATIONS", defaults.max_bulk_operations
                ),
                max_filter_length=_env_int(
                    "SCIMGATE_MAX_FILTER_LENGTH", defaults.max_filter_length
                ),
                max_filter_terms=_env_int("SCIMGATE_MAX_FILTER_TERMS", defaults.max_filter_terms),
                max_attribute_names=_env_int(
                    "SCIMGATE_MAX_ATTRIBUTE_NAMES", defaults.max_attribute_names
                ),
                confirmation_interval=float(
                    os.environ.get("SCIMGATE_CONFIRMATION_INTERVAL")
                    or defaults.confirmation_interval
                ),
                max_members_per_request=_env_int(
                    "SCIMGATE_MAX_MEMBERS_PER_REQUEST", defaults.max_members_per_request
                ),
            ),
            events=EventSettings(
                retention_days=_env_float(
                    "SCIMGATE_EVENT_RETENTION_DAYS", event_defaults.retention_days
                ),
                tombstone_days=_env_float(
                    "SCIMGATE_TOMBSTONE_RETENTION_DAYS", event_defaults.tombstone_days
                ),
                offboarding_alert_minutes=_env_float(
                    "SCIMGATE_OFFBOARDING_ALERT_MINUTES", event_defaults.offboarding_alert_minutes
                ),
                webhook_timeout=_env_float(
                    "SCIMGATE_WEBHOOK_TIMEOUT", event_defaults.webhook_timeout
                ),
                lease_seconds=_env_float("SCIMGATE_LEASE_SECONDS", event_defaults.lease_seconds),
                webhook_allowed_hosts=AllowedHosts.parse(
                    os.environ.get(ALLOWED_HOSTS_VARIABLE, "")
                ),
            ),
            pool=PoolSettings.from_env(),
            rate_limits=RateLimits.from_env(),
            body_limits=BodyLimits.from_env(),
            metrics=MetricsSettings.from_env(),
            encryption_keys=tuple(
                key.strip()
                for key in os.environ.get("SCIMGATE_ENCRYPTION_KEYS", "").split(",")
                if key.strip()
            ),
        )
