"""Settings, read from ``SCIMGATE_*`` environment variables (flags override them)."""

import ipaddress
import os
from dataclasses import field
from datetime import timedelta
from typing import Any

from scimgate.records import frozen
from scimgate.scim.limits import Limits

DEFAULT_DATABASE_URL = "sqlite:///scimgate.db"


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw else default


def _env_flag(name: str, *, default: bool) -> bool:
    """A yes/no variable: ``1``, ``true``, ``yes``, ``on`` or their opposites, in any case."""
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    return raw not in ("0", "false", "no", "off") if default else raw in ("1", "true", "yes", "on")


def _env_seconds(name: str, default: tuple[float, ...]) -> tuple[float, ...]:
    """Comma-separated seconds, e.g. ``0.2,0.2,0.2``."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return tuple(float(part) for part in raw.split(","))
    except ValueError:
        raise ValueError(f"{name} must be comma-separated seconds, not {raw!r}") from None


MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
"""The variable prometheus_client's multiprocess mode reads in every server process."""

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_HOSTS_VARIABLE = "SCIMGATE_WEBHOOK_ALLOWED_HOSTS"

RETRY_SCHEDULE_VARIABLE = "SCIMGATE_WEBHOOK_RETRY_SCHEDULE"

DEFAULT_RETRY_SCHEDULE: tuple[float, ...] = (
    5,
    30,
    2 * 60,
    10 * 60,
    30 * 60,
    3600,
    2 * 3600,
    4 * 3600,
    8 * 3600,
    *(12 * 3600,) * 5,
)
"""Seconds waited after each failed webhook attempt: 5 s, 30 s, 2 min, 10 min, 30 min, 1 h,
2 h, 4 h, 8 h, then 12 h five times, 15 attempts over about three days."""

LEASE_SHARE = 0.5
"""The most of a lease one webhook attempt may take: the rest covers recording the outcome
and the clocks of two workers disagreeing a little."""


@frozen
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


@frozen
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

    webhook_retry_schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE
    """``SCIMGATE_WEBHOOK_RETRY_SCHEDULE``: comma-separated seconds, e.g. ``0.2,0.2,0.2``."""

    def __post_init__(self) -> None:
        if any(delay < 0 for delay in self.webhook_retry_schedule):
            raise ValueError(
                f"{RETRY_SCHEDULE_VARIABLE} holds a negative wait: "
                f"{','.join(f'{delay:g}' for delay in self.webhook_retry_schedule)}"
            )
        # An attempt that outlived its lease would let another worker send the same delivery.
        if not 0 < self.webhook_timeout <= self.lease_seconds * LEASE_SHARE:
            raise ValueError(
                f"SCIMGATE_WEBHOOK_TIMEOUT ({self.webhook_timeout:g} s) must be above 0 and at "
                f"most {LEASE_SHARE:.0%} of SCIMGATE_LEASE_SECONDS ({self.lease_seconds:g} s), "
                "so that a delivery attempt always ends while its worker still holds the lease"
            )


@frozen
class GoogleSettings:
    """Where Google Workspace directories are read from, and how often.

    The addresses are the operator's, never a customer's: a service account key
    names its own ``token_uri``, which is not followed.
    """

    api_url: str = "https://admin.googleapis.com"
    """``SCIMGATE_GOOGLE_API_URL``: the Admin SDK Directory API's root."""

    token_url: str = "https://oauth2.googleapis.com/token"
    """``SCIMGATE_GOOGLE_TOKEN_URL``: Google's OAuth 2.0 token endpoint."""

    sync_minutes: float = 5.0
    """``SCIMGATE_GOOGLE_SYNC_MINUTES``: a new directory's interval between full syncs."""

    backoff_seconds: float = 1.0
    """``SCIMGATE_GOOGLE_BACKOFF_SECONDS``: the first wait after a quota error; each retry
    doubles it, up to 64 s, with random jitter."""

    oauth_client_id: str | None = None
    """``SCIMGATE_GOOGLE_OAUTH_CLIENT_ID``: the operator's OAuth client (a web application
    in the Google Cloud console), with which a customer's administrator may consent to the
    read-only scopes instead of setting up a service account."""

    oauth_client_secret: str | None = None
    """``SCIMGATE_GOOGLE_OAUTH_CLIENT_SECRET``: that client's secret."""

    auth_url: str = "https://accounts.google.com/o/oauth2/v2/auth"
    """``SCIMGATE_GOOGLE_AUTH_URL``: Google's authorization endpoint (its consent screen)."""

    public_url: str | None = None
    """``SCIMGATE_PUBLIC_URL``: where Google posts push notifications of user changes
    (``/google/notifications`` below it); without it, changes wait for the next sync."""

    service_account_key_file: str | None = None
    """``SCIMGATE_GOOGLE_SERVICE_ACCOUNT_KEY_FILE``: the JSON key of the operator's own
    service account. A customer's administrator may grant it domain-wide delegation
    instead of creating a key (which new Google Cloud organizations forbid by default)."""

    def __post_init__(self) -> None:
        if self.sync_minutes <= 0 or self.backoff_seconds < 0:
            raise ValueError(
                "SCIMGATE_GOOGLE_SYNC_MINUTES must be above 0 and "
                "SCIMGATE_GOOGLE_BACKOFF_SECONDS at least 0"
            )

    @classmethod
    def from_env(cls) -> "GoogleSettings":
        return cls(
            api_url=os.environ.get("SCIMGATE_GOOGLE_API_URL", cls.api_url).rstrip("/"),
            token_url=os.environ.get("SCIMGATE_GOOGLE_TOKEN_URL", cls.token_url),
            sync_minutes=_env_float("SCIMGATE_GOOGLE_SYNC_MINUTES", cls.sync_minutes),
            backoff_seconds=_env_float("SCIMGATE_GOOGLE_BACKOFF_SECONDS", cls.backoff_seconds),
            service_account_key_file=os.environ.get("SCIMGATE_GOOGLE_SERVICE_ACCOUNT_KEY_FILE")
            or None,
            public_url=os.environ.get("SCIMGATE_PUBLIC_URL") or None,
            oauth_client_id=os.environ.get("SCIMGATE_GOOGLE_OAUTH_CLIENT_ID") or None,
            oauth_client_secret=os.environ.get("SCIMGATE_GOOGLE_OAUTH_CLIENT_SECRET") or None,
            auth_url=os.environ.get("SCIMGATE_GOOGLE_AUTH_URL", cls.auth_url),
        )


@frozen
class PoolSettings:
    """Connections each process keeps to PostgreSQL (SQLite opens its file as needed).

    By default a process opens up to 30 and keeps every one it opened: a connection
    opened under load and closed after it costs PostgreSQL a new backend, which
    fills its caches and plans its statements afresh (some 10 to 30 ms of its CPU;
    measured in the README's "Scale-out", sized in ``docs/deployment.md``).
    """

    size: int = 30
    """``SCIMGATE_DB_POOL_SIZE``: connections kept open once opened."""

    overflow: int = 0
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


@frozen
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


@frozen
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


@frozen
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


@frozen
class MetricsSettings:
    """Who may scrape ``/metrics``, and what it shows."""

    token: str | None = None
    """``SCIMGATE_METRICS_TOKEN``: the bearer token a scrape must send; unset, /metrics is off."""

    directory_labels: bool = False
    """``SCIMGATE_METRICS_DIRECTORY_LABELS=1``: count SCIM requests per directory id.

    Off, counts are aggregated over directories, so that a scrape names none.
    """

    multiprocess_directory: str | None = None
    """``PROMETHEUS_MULTIPROC_DIR``: where the server processes of one ``serve`` keep their
    counters, so that a scrape of any one shows them all (set by ``serve``)."""

    @classmethod
    def from_env(cls) -> "MetricsSettings":
        return cls(
            token=os.environ.get("SCIMGATE_METRICS_TOKEN") or None,
            directory_labels=_env_flag("SCIMGATE_METRICS_DIRECTORY_LABELS", default=False),
            multiprocess_directory=os.environ.get(MULTIPROCESS_DIRECTORY) or None,
        )


@frozen
class LogPolicy:
    """What the provisioning log keeps (``SCIMGATE_LOG_*``)."""

    redact: frozenset[str] = frozenset()
    """``SCIMGATE_LOG_REDACT``: lower-cased SCIM attribute names whose values are replaced by
    ``[redacted]``."""

    bodies: bool = True
    """``SCIMGATE_LOG_BODIES``: whether request and response bodies are kept at all."""

    retention_days: float = 14.0
    """``SCIMGATE_LOG_RETENTION_DAYS``: entries older than this are removed."""

    @classmethod
    def from_env(cls) -> "LogPolicy":
        names = os.environ.get("SCIMGATE_LOG_REDACT", "")
        return cls(
            redact=frozenset(name.strip().lower() for name in names.split(",") if name.strip()),
            bodies=_env_flag("SCIMGATE_LOG_BODIES", default=True),
            retention_days=_env_float("SCIMGATE_LOG_RETENTION_DAYS", cls.retention_days),
        )


@frozen
class SessionPolicy:
    """How long an admin's browser session lasts."""

    idle: timedelta = timedelta(minutes=30)
    """``SCIMGATE_PORTAL_IDLE_MINUTES``: signed out after this long without a request."""

    absolute: timedelta = timedelta(hours=12)
    """``SCIMGATE_PORTAL_SESSION_HOURS``: signed out after this long whatever happens."""

    @classmethod
    def from_env(cls) -> "SessionPolicy":
        return cls(
            idle=timedelta(
                minutes=_env_float("SCIMGATE_PORTAL_IDLE_MINUTES", cls.idle / timedelta(minutes=1))
            ),
            absolute=timedelta(
                hours=_env_float("SCIMGATE_PORTAL_SESSION_HOURS", cls.absolute / timedelta(hours=1))
            ),
        )


def _limits_from_env() -> Limits:
    """Each protocol limit from ``SCIMGATE_`` + its name in capitals (``SCIMGATE_MAX_RESULTS``)."""
    values: dict[str, Any] = {}
    for name, default in vars(Limits()).items():
        variable = f"SCIMGATE_{name.upper()}"
        values[name] = (
            _env_float(variable, default)
            if isinstance(default, float)
            else _env_int(variable, default)
        )
    return Limits(**values)


def pass_to_server_processes(settings: "Settings", counters: str) -> None:
    """Put in the environment what the server processes of ``serve --workers N`` start from.

    Each builds its ``Settings`` from the environment afresh: this adds the database
    ``serve`` was given, and where they share their metrics' counters (unless the
    operator named a place).
    """
    os.environ["SCIMGATE_DATABASE_URL"] = settings.database_url
    os.environ.setdefault(MULTIPROCESS_DIRECTORY, counters)


@frozen
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
    log: LogPolicy = field(default_factory=LogPolicy)
    portal_sessions: SessionPolicy = field(default_factory=SessionPolicy)
    google: GoogleSettings = field(default_factory=GoogleSettings)

    encryption_keys: tuple[str, ...] = ()
    """``SCIMGATE_ENCRYPTION_KEYS``: comma-separated ``<key id>:<base64 key>``, newest first.

    Empty: stored documents are plain. The first key encrypts; every key decrypts.
    """

    @classmethod
    def from_env(cls) -> "Settings":
        event_defaults = EventSettings()
        return cls(
            # Set but empty (``SCIMGATE_DATABASE_URL=`` in a shell or a unit file) is unset.
            database_url=os.environ.get("SCIMGATE_DATABASE_URL", "").strip()
            or DEFAULT_DATABASE_URL,
            public_url=os.environ.get("SCIMGATE_PUBLIC_URL") or None,
            admin_token=os.environ.get("SCIMGATE_ADMIN_TOKEN") or None,
            limits=_limits_from_env(),
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
                webhook_retry_schedule=_env_seconds(
                    RETRY_SCHEDULE_VARIABLE, event_defaults.webhook_retry_schedule
                ),
            ),
            pool=PoolSettings.from_env(),
            rate_limits=RateLimits.from_env(),
            body_limits=BodyLimits.from_env(),
            metrics=MetricsSettings.from_env(),
            log=LogPolicy.from_env(),
            portal_sessions=SessionPolicy.from_env(),
            google=GoogleSettings.from_env(),
            encryption_keys=tuple(
                key.strip()
                for key in os.environ.get("SCIMGATE_ENCRYPTION_KEYS", "").split(",")
                if key.strip()
            ),
        )
