"""Webhooks: endpoints, their signing secrets, deliveries and the attempts at them."""

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table

from scimgate.store.tables.base import Document, Timestamp, Uuid, metadata

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
