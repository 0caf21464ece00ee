"""Browser sessions of the admin portal and of setup links; the token a setup link revealed.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("setup_links", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_id", sa.String(length=36), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_setup_links_token_id_scim_tokens"), "scim_tokens", ["token_id"], ["id"]
        )
    op.create_table(
        "portal_sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("admin_key_id", sa.String(length=36), nullable=True),
        sa.Column("setup_link_id", sa.String(length=36), nullable=True),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["admin_key_id"],
            ["admin_keys.id"],
            name=op.f("fk_portal_sessions_admin_key_id_admin_keys"),
        ),
        sa.ForeignKeyConstraint(
            ["setup_link_id"],
            ["setup_links.id"],
            name=op.f("fk_portal_sessions_setup_link_id_setup_links"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_sessions")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_portal_sessions_secret_hash")),
    )
    with op.batch_alter_table("portal_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_portal_sessions_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("portal_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_sessions_expires_at"))
    op.drop_table("portal_sessions")
    with op.batch_alter_table("setup_links", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_setup_links_token_id_scim_tokens"), type_="foreignkey"
        )
        batch_op.drop_column("token_id")
