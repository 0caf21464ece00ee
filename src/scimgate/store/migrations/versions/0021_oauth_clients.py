"""OAuth 2.0 clients: a directory's IdP may obtain short-lived access tokens instead of
holding a static one.

An access token is a row of ``scim_tokens`` with an expiry and its client, so that it
is found, cached and revoked as any token is, and its revocation moves the
directory's credential stamp (migration 0018) for every process at once. The
columns are added in place, not by copying the table, which would drop its trigger.

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oauth_clients",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("directory_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("hint", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["directory_id"],
            ["directories.id"],
            name=op.f("fk_oauth_clients_directory_id_directories"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_clients")),
    )
    op.create_index(op.f("ix_oauth_clients_directory_id"), "oauth_clients", ["directory_id"])
    op.add_column("scim_tokens", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("scim_tokens", sa.Column("oauth_client_id", sa.String(length=36), nullable=True))
    op.create_index(op.f("ix_scim_tokens_oauth_client_id"), "scim_tokens", ["oauth_client_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_scim_tokens_oauth_client_id"), table_name="scim_tokens")
    op.execute("DELETE FROM scim_tokens WHERE oauth_client_id IS NOT NULL")
    # In place, as they were added (SQLite 3.35 and later drops a plain column so).
    op.drop_column("scim_tokens", "oauth_client_id")
    op.drop_column("scim_tokens", "expires_at")
    op.drop_index(op.f("ix_oauth_clients_directory_id"), table_name="oauth_clients")
    op.drop_table("oauth_clients")
