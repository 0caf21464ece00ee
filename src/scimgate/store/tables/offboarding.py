"""Offboarding: proof of each deprovisioning, and the tombstones of deleted users."""

from sqlalchemy import Column, ForeignKey, Index, String, Table

from scimgate.store.tables.base import Document, Sealable, Timestamp, Uuid, metadata

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
