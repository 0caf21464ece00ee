"""The database schema, as SQLAlchemy Core tables.

Every tenant-owned table carries ``directory_id`` and every index that serves
a lookup starts with it, so that a query for one directory never reads another
directory's rows and costs the same whatever the size of the other tenants.

Resources keep their full SCIM document in ``doc`` (without the server-owned
``id`` and ``meta``, and without anything derived from membership rows), next to
indexed columns for what identity providers look up: the case-folded
``userName``, ``externalId``, ``displayName`` and ``active``.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect

from scimgate.scim.values import EXTERNAL_ID_MAX, GROUP_DISPLAY_NAME_MAX, USER_NAME_MAX

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Document = JSON().with_variant(JSONB(), "postgresql")
"""A JSON document: JSONB on PostgreSQL, JSON text on SQLite."""

Uuid = String(36)
"""Ids are UUID strings: the same text on every backend and on the wire."""

Sealable = String()
"""Personal text that encryption at rest stores encrypted (longer than the value): no length cap.

The values' own limits are checked before they are stored.
"""


class Timestamp(TypeDecorator[datetime]):
    """A UTC instant: stored in UTC, always read back timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        # PostgreSQL answers in its session's time zone; scimgate speaks UTC only.
        return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)


organizations = Table(
    "organizations",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", Timestamp(), nullable=False),
)

directories = Table(
    "directories",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("organization_id", Uuid, ForeignKey("organizations.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("created_at", Timestamp(), nullable=False),
    Column("idp", String(16), nullable=False, server_default="generic"),
    Column("idp_detected", String(16)),
    Column("schemas_revision", Integer, nullable=False, server_default="0"),
    Column("activated_at", Timestamp()),
    Column("delivery", String(16), nullable=False, server_default="live"),
    Column("held_since", Timestamp()),
    Column("safety_max_count", Integer, nullable=False, server_default="50"),
    Column("safety_max_percent", Integer, nullable=False, server_default="10"),
    Column("safety_window_minutes", Integer, nullable=False, server_default="60"),
    Column("safety_reset_at", Timestamp()),
    Column("assignment_group", String(512)),
    Column("config_stamp", BigInteger, nullable=False, server_default="0"),
)
"""``delivery`` is ``live``, ``held`` (the safety valve tripped) or ``review`` (dry run).
``config_stamp`` takes a new random value with every change of the role rules or attribute
mappings (``scimgate.store.configuration``)."""

scim_tokens = Table(
    "scim_tokens",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("directory_id", Uuid, ForeignKey("directories.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("hint", String(32), nullable=False),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("created_at", Timestamp(), nullable=False),
    Column("last_used_at", Timestamp()),
    Column("revoked_at", Timestamp()),
)

users = Table(
    "users",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("directory_id", Uuid, ForeignKey("directories.id"), nullable=False),
    Column("user_name", Sealable, nullable=False),
    Column("user_name_key", String(USER_NAME_MAX), nullable=False),
    Column("external_id", String(EXTERNAL_ID_MAX)),
    Column("display_name", Sealable),
    Column("active", Boolean),
    Column("doc", Document, nullable=False),
    Column("created_at", Timestamp(), nullable=False),
    Column("modified_at", Timestamp(), nullable=False),
    Column("version", Integer, nullable=False),
    Column("confirmed_at", Timestamp()),
    UniqueConstraint("directory_id", "user_name_key"),
    Index(None, "directory_id", "id"),
    Index(None, "directory_id", "external_id"),
    Index(None, "directory_id", "display_name"),
)

user_email_hashes = Table(
    "user_email_hashes",
    metadata,
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("hash", String(64), primary_key=True),
    Column("directory_id", Uuid, ForeignKey("directories.id"), nullable=False),
    Index(None, "directory_id", "hash"),
)
"""With encryption at rest on: the keyed hash of each of a user's e-mail addresses.

The addresses themselves are only in the encrypted document; ``emails.value eq``
filters find users through these rows. Empty while encryption is off.
"""

resource_counts = Table(
    "resource_counts",
    metadata,
    Column("directory_id", Uuid, ForeignKey("directories.id"), primary_key=True),
    Column("resource_type", String(8), primary_key=True),
    Column("total", Integer, nullable=False),
)
"""How many users and groups each directory holds, kept with every insert and delete.

A list's ``totalResults`` without a filter reads this row instead of counting
the directory's rows, which would cost as much as the directory is large.
"""

groups = Table(
    "groups",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("directory_id", Uuid, ForeignKey("directories.id"), nullable=False),
    Column("display_name", Sealable, nullable=False),
    Column("display_name_key", String(GROUP_DISPLAY_NAME_MAX), nullable=False),
    Column("external_id", String(EXTERNAL_ID_MAX)),
    Column("doc", Document, nullable=False),
    Column("created_at", Timestamp(), nullable=False),
    Column("modified_at", Timestamp(), nullable=False),
    Column("version", Integer, nullable=False),
    Column("confirmed_at", Timestamp()),
    Index(None, "directory_id", "id"),
    Index(None, "directory_id", "display_name_key"),
    Index(None, "directory_id", "external_id"),
)

group_members = Table(
    "group_members",
    metadata,
    Column("group_id", Uuid, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("member_id", Uuid, primary_key=True),
    Column("directory_id", Uuid, ForeignKey("directories.id"), nullable=False),
    Column("member_type", String(8), nullable=False),
    Column("display", Sealable),
    Index(None, "directory_id", "member_id"),
)
"""One row per membership: a member is a user or a nested group."""

attribute_mappings = Table(
    "attribute_mappings",
    metadata,
    Column("directory_id", Uuid, ForeignKey("directories.id"), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("path", String(512), nullable=False),
)
"""Per directory: a named custom attribute of the normalized view, read from a SCIM path."""

extension_schemas = Table(
    "extension_schemas",
    metadata,
    Column("directory_id", Uuid, ForeignKey("directories.id"), primary_key=True),
    Column("id", String(512), primary_key=True),
    Column("resource_type", String(16), nullable=False),
    Column("definition", Document, nullable=False),
    Column("created_at", Timestamp(), nullable=False),
)
"""Per directory: the extension schemas (RFC 7643 §7) its users or groups may carry."""

role_rules = Table(
    "role_rules",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("directory_id", Uuid, ForeignKey("directories.id"), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("match", String(512), nullable=False),
    Column("role", String(64), nullable=False),
    Column("priority", Integer, nullable=False),
)
"""Per directory: members of a group (by name or IdP id) get a role; ``default`` when none."""

user_roles = Table(
    "user_roles",
    metadata,
    Column("directory_id", Uuid, ForeignKey("directories.id"), primary_key=True),
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("roles", Document, nullable=False),
)
"""A user's effective roles, kept current as memberships and rules change."""


def _event_columns() -> list[Column[Any]]:
    return [
        Column("id", Uuid, nullable=False, unique=True),
        Column("organization_id", Uuid, nullable=False),
        Column("directory_id", Uuid, ForeignKey("directories.id"), nullable=False),
        Column("type", String(64), nullable=False),
        Column("resource_id", Uuid),
        Column("occurred_at", Timestamp(), nullable=False),
        Column("data", Document, nullable=False),
    ]


events = Table(
    "events",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    *_event_columns(),
    Column("published_at", Timestamp(), nullable=False),
    Column("position", BigInteger),
    Index(None, "position", unique=True),
    Index(None, "directory_id", "position"),
    Index(None, "organization_id", "position"),
    Index(None, "directory_id", "resource_id"),
    Index(None, "published_at"),
    sqlite_autoincrement=True,
)
"""Published events, in the order the app reads them (``position``).

Written in the transaction of the change they announce (a transactional
outbox). ``seq`` numbers the rows as they are inserted; ``position`` is the
event's place in the stream, the ``sequence`` readers see and pass back as
their cursor: commit order within a directory (see ``store/events.py`` for how
PostgreSQL numbers it after commit; on SQLite it is the event's ``seq``).
Neither is ever reused, not even after retention removes old events, so a
cursor stays meaningful.
"""

held_events = Table(
    "held_events",
    metadata,
    Column("position", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    *_event_columns(),
    Index(None, "directory_id", "position"),
    sqlite_autoincrement=True,
)
"""Events of a directory whose delivery is held (safety valve, dry run), awaiting review."""

deprovisionings = Table(
    "deprovisionings",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("organization_id", Uuid, nullable=False),
    Column("directory_id", Uuid, ForeignKey("directories.id"), nullable=False),
    Column("user_id", Uuid, nullable=False),
    Column("user_name", Sealable),
    Column("reason", String(16), nullable=False),
    Column("event_id", Uuid, nullable=False, unique=True),
    Column("requested_at", Timestamp(), nullable=False),
    Column("notified_at", Timestamp()),
    Column("notified_via", String(32)),
    Column("confirmed_at", Timestamp()),
    Column("confirmed_via", String(32)),
    Column("alerted_at", Timestamp()),
    Column("discarded_at", Timestamp()),
    Index(None, "directory_id", "requested_at"),
    Index(None, "organization_id", "requested_at"),
    Index(None, "directory_id", "user_id"),
)
"""Proof of offboarding: when the IdP asked, when the app was told, when it confirmed."""

user_tombstones = Table(
    "user_tombstones",
    metadata,
    Column("directory_id", Uuid, ForeignKey("directories.id"), primary_key=True),
    Column("user_id", Uuid, primary_key=True),
    Column("user_name", Sealable),
    Column("external_id", Sealable),
    Column("last_state", Document, nullable=False),
    Column("deleted_at", Timestamp(), nullable=False),
    Index(None, "deleted_at"),
)
"""Deleted users, kept for audit until the retention period purges them."""

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("organization_id", Uuid, ForeignKey("organizations.id"), index=True),
    Column("url", String(2048), nullable=False),
    Column("description", String(200), nullable=False, server_default=""),
    Column("event_types", Document, nullable=False),
    Column("revocation_hook", Boolean, nullable=False, server_default="0"),
    Column("enabled", Boolean, nullable=False, server_default="1"),
    Column("disabled_reason", String(512)),
    Column("created_at", Timestamp(), nullable=False),
)
"""Where events are delivered: for one organization, or for all when it names none."""

webhook_secrets = Table(
    "webhook_secrets",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column(
        "endpoint_id",
        Uuid,
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("secret", String(128), nullable=False),
    Column("created_at", Timestamp(), nullable=False),
    Column("expires_at", Timestamp()),
)
"""Signing secrets of an endpoint; during a rotation two are valid and both sign."""

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column(
        "endpoint_id",
        Uuid,
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("directory_id", Uuid, nullable=False),
    Column("event_seq", BigInteger, nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", Timestamp(), nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_until", Timestamp()),
    Column("created_at", Timestamp(), nullable=False),
    Column("delivered_at", Timestamp()),
    Index(None, "endpoint_id", "directory_id", "status", "event_seq"),
    Index(None, "endpoint_id", "status", "event_seq", "id"),
    Index(None, "status", "endpoint_id", "directory_id", "event_seq"),
    Index(None, "status", "next_attempt_at"),
    Index(None, "event_id"),
)
"""One event to one endpoint. ``pending`` until a 2xx makes it ``delivered``.

Deliveries of one directory to one endpoint go strictly in ``event_seq`` order:
only the oldest pending one may be attempted, so a failing delivery holds back
the later events of its directory, for that endpoint alone.
"""

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column(
        "delivery_id",
        Uuid,
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("endpoint_id", Uuid, nullable=False),
    Column("attempted_at", Timestamp(), nullable=False),
    Column("status_code", Integer),
    Column("latency_ms", Integer, nullable=False),
    Column("error", String(512)),
    Column("response_excerpt", String(1024)),
    Index(None, "endpoint_id", "attempted_at"),
)
"""Every delivery attempt: its answer (or error), how long it took, the start of the response."""

worker_cursors = Table(
    "worker_cursors",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False),
)
"""Positions background work has reached, e.g. the last event fanned out to webhooks."""

admin_keys = Table(
    "admin_keys",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("hint", String(32), nullable=False),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("scope", String(16), nullable=False),
    Column("created_at", Timestamp(), nullable=False),
    Column("last_used_at", Timestamp()),
    Column("revoked_at", Timestamp()),
)
"""Keys of the management API: shown once, stored as a hash, ``read`` or ``write``."""

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("id", Uuid, nullable=False, unique=True),
    Column("at", Timestamp(), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(200), nullable=False),
    Column("target_type", String(64)),
    Column("target_id", String(512)),
    Column("organization_id", Uuid),
    Column("outcome", String(16), nullable=False),
    Column("detail", String(1024)),
    Column("count", Integer, nullable=False, server_default="1"),
    Column("client", String(64)),
    Index(None, "at"),
    Index(None, "organization_id", "seq"),
    Index(None, "client", "at"),
    sqlite_autoincrement=True,
)
"""Every administrative action: who, when, on what, with what result.

Rows are appended and never changed, but for the ``count`` of refused
credentials: those of one client address, action and reason within a minute
share a row (migration 0016), so that a flood of them stays a few rows.
"""

provisioning_logs = Table(
    "provisioning_logs",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("directory_id", Uuid, ForeignKey("directories.id"), nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("received_at", Timestamp(), nullable=False),
    Column("method", String(8), nullable=False),
    Column("path", String(2048), nullable=False),
    Column("query", Sealable),
    Column("status", Integer, nullable=False),
    Column("latency_ms", Integer, nullable=False),
    Column("client", String(16)),
    Column("user_agent", String(512)),
    Column("scim_type", String(32)),
    Column("error_detail", Sealable),
    Column("resource_type", String(16)),
    Column("resource_id", String(64)),
    Column("user_name", Sealable),
    Column("request_body", Document),
    Column("response_body", Document),
    Column("diagnosis", Sealable),
    Column("user_name_key", String(64)),
    Index(None, "directory_id", "received_at"),
    Index(None, "directory_id", "status", "received_at"),
    Index(None, "directory_id", "user_name"),
    Index(None, "directory_id", "user_name_key"),
    Index(None, "request_id"),
    Index(None, "received_at"),
)
"""Every SCIM request to a directory, with what support needs to explain a failure.

``user_name_key`` is only set with encryption at rest on: the keyed hash of the
encrypted ``user_name``, by which support finds a user's requests.
"""

setup_links = Table(
    "setup_links",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("organization_id", Uuid, ForeignKey("organizations.id"), nullable=False, index=True),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("created_at", Timestamp(), nullable=False),
    Column("expires_at", Timestamp(), nullable=False),
    Column("opened_at", Timestamp()),
    Column("directory_id", Uuid, ForeignKey("directories.id")),
    Column("token_revealed_at", Timestamp()),
    Column("revoked_at", Timestamp()),
    Column("token_id", Uuid, ForeignKey("scim_tokens.id")),
)
"""Expiring one-time links through which a customer's IT admin connects an IdP."""

portal_sessions = Table(
    "portal_sessions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("kind", String(8), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("scope", String(16), nullable=False),
    Column("admin_key_id", Uuid, ForeignKey("admin_keys.id")),
    Column("setup_link_id", Uuid, ForeignKey("setup_links.id")),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", Timestamp(), nullable=False),
    Column("last_seen_at", Timestamp(), nullable=False),
    Column("expires_at", Timestamp(), nullable=False),
    Column("ended_at", Timestamp()),
    Index(None, "expires_at"),
)
"""Signed-in browsers: the SaaS team's (``admin``) and IT admins' behind a setup link (``setup``).

The cookie holds a random secret; only its SHA-256 is stored, like every other secret.
"""

rate_buckets = Table(
    "rate_buckets",
    metadata,
    Column("directory_id", Uuid, primary_key=True),
    Column("bucket", String(64), primary_key=True),
    Column("tat", Float(precision=53), nullable=False),
)
"""Rate limits shared by every server process on PostgreSQL: one row per limited bucket.

``bucket`` is ``directory`` or ``token:<token id>``. ``tat`` is the bucket's
theoretical arrival time (GCRA), in seconds since the epoch on the database's clock:
a request is admitted while ``tat`` lies at most the burst allowance ahead of now.
The table is unlogged (migration 0015): a crash of the database refills the buckets,
and a request's bucket update waits for no disk flush.
"""

credential_stamps = Table(
    "credential_stamps",
    metadata,
    Column("directory_id", Uuid, primary_key=True),
    Column("version", BigInteger, nullable=False, server_default="1"),
)
"""One row per directory whose ``version`` moves, by database triggers, whenever the
directory's row changes or one of its tokens is revoked: a server process that keeps tokens
and directory rows in memory reads this one number to know they still hold."""
