"""Directories scimgate pulls from their source instead of being pushed to."""

from sqlalchemy import Column, Float, ForeignKey, String, Table

from scimgate.store.tables.base import Document, Sealable, Timestamp, Uuid, metadata

google_connections = Table(
    "google_connections",
    metadata,
    Column("directory_id", Uuid, ForeignKey("directories.id"), primary_key=True),
    Column("customer_id", String(64), nullable=False),
    Column("admin_email", String(320), nullable=False),
    Column("credentials", Sealable),
    Column("client_id", String(64), nullable=False),
    Column("client_email", String(320), nullable=False),
    Column("scope_kind", String(16), nullable=False),
    Column("scope_values", Document, nullable=False),
    Column("interval_minutes", Float, nullable=False),
    Column("next_sync_at", Timestamp(), nullable=False, index=True),
    Column("lease_owner", String(120)),
    Column("lease_until", Timestamp()),
    Column("last_started_at", Timestamp()),
    Column("last_finished_at", Timestamp()),
    Column("last_success_at", Timestamp()),
    Column("last_error", String(2048)),
    Column("last_counts", Document),
    Column("empty_refused_at", Timestamp()),
    Column("empty_allowed_at", Timestamp()),
    Column("created_at", Timestamp(), nullable=False),
    Column("updated_at", Timestamp(), nullable=False),
)
"""How to read one directory's Google Workspace, and how its syncs went.

``credentials`` are sealed under the keyring (plain when encryption at rest is
off): the JSON key of the customer's service account with domain-wide
delegation, or the refresh token an administrator's OAuth consent gave (a JSON
object of type ``authorized_user``); without any, the operator's service account
is used, which the customer's administrator granted domain-wide delegation to.
``admin_email`` is the administrator the service account acts as, or who consented. ``scope_kind``
is ``all``, ``org_units`` or ``groups``, and ``scope_values`` the org unit paths
or group e-mails it names. A worker takes a due directory by setting
``lease_owner`` and ``lease_until``, so that one directory is synced by one
worker at a time. ``empty_refused_at`` is when the last sync found nobody in scope
while the directory had users, and refused to deprovision them;
``empty_allowed_at`` when an administrator allowed the next sync to do so. A sync
that completes clears both.
"""

google_channels = Table(
    "google_channels",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("directory_id", Uuid, ForeignKey("directories.id"), nullable=False, index=True),
    Column("event", String(16), nullable=False),
    Column("resource_id", String(256), nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("expires_at", Timestamp(), nullable=False),
    Column("created_at", Timestamp(), nullable=False),
)
"""A push notification channel Google opened for a pulled directory (``users.watch``): Google
posts to scimgate when one of its users is added, changed or deleted, naming the channel
(``id``) and echoing its token, kept here as its SHA-256 only."""
