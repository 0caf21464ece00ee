"""Directories pulled from Google Workspace: a directory's kind, and its connection to Google.

A pushed directory (``scim``) is written by its IdP through SCIM. A pulled one
(``google``) is written by the sync that reads the customer's Google Workspace
through the Admin SDK Directory API, with the service account key kept in
``google_connections`` (encrypted at rest when keys are configured). The kind is
added in place, not by copying the table, which would drop its triggers
(migration 0018).

Revision ID: 0023
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

_DOCUMENT = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column(
        "directories",
        sa.Column("kind", sa.String(length=16), nullable=False, server_default="scim"),
    )
    op.create_table(
        "google_connections",
        sa.Column("directory_id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("admin_email", sa.String(length=320), nullable=False),
        sa.Column("credentials", sa.String(), nullable=True),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("client_email", sa.String(length=320), nullable=False),
        sa.Column("scope_kind", sa.String(length=16), nullable=False),
        sa.Column("scope_values", _DOCUMENT, nullable=False),
        sa.Column("interval_minutes", sa.Float(), nullable=False),
        sa.Column("next_sync_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=120), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=2048), nullable=True),
        sa.Column("last_counts", _DOCUMENT, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["directory_id"],
            ["directories.id"],
            name=op.f("fk_google_connections_directory_id_directories"),
        ),
        sa.PrimaryKeyConstraint("directory_id", name=op.f("pk_google_connections")),
    )
    op.create_index(
        op.f("ix_google_connections_next_sync_at"), "google_connections", ["next_sync_at"]
    )
    op.create_table(
        "google_channels",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("directory_id", sa.String(length=36), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("resource_id", sa.String(length=256), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["directory_id"],
            ["directories.id"],
            name=op.f("fk_google_channels_directory_id_directories"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_google_channels")),
    )
    op.create_index(op.f("ix_google_channels_directory_id"), "google_channels", ["directory_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_google_channels_directory_id"), table_name="google_channels")
    op.drop_table("google_channels")
    op.drop_index(op.f("ix_google_connections_next_sync_at"), table_name="google_connections")
    op.drop_table("google_connections")
    # In place, as it was added (SQLite 3.35 and later drops a plain column so).
    op.drop_column("directories", "kind")
