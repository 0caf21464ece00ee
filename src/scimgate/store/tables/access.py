"""Access to the management side: API keys, setup links, and signed-in browser sessions."""

from sqlalchemy import Column, ForeignKey, Index, String, Table

from scimgate.store.tables.base import Timestamp, Uuid, metadata

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
