"""Admin API keys, the audit log, the provisioning log, setup links.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admin_keys",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("hint", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_keys")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_admin_keys_secret_hash")),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=200), nullable=False),
        sa.Column("target_type", sa.String(length=64), nullable=True),
        sa.Column("target_id", sa.String(length=512), nullable=True),
        sa.Column("organization_id", sa.String(length=36), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.String(length=1024), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("id", name=op.f("uq_audit_log_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_log_organization_id_seq"), ["organization_id", "seq"], unique=False
        )

    op.create_table(
        "provisioning_logs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("directory_id", sa.String(length=36), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("path", sa.String(length=2048), nullable=False),
        sa.Column("query", sa.String(length=4096), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("client", sa.String(length=16), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column("scim_type", sa.String(length=32), nullable=True),
        sa.Column("error_detail", sa.String(length=2048), nullable=True),
        sa.Column("resource_type", sa.String(length=16), nullable=True),
        sa.Column("resource_id", sa.String(length=64), nullable=True),
        sa.Column("user_name", sa.String(length=512), nullable=True),
        sa.Column(
            "request_body",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "response_body",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("diagnosis", sa.String(length=2048), nullable=True),
        sa.ForeignKeyConstraint(
            ["directory_id"],
            ["directories.id"],
            name=op.f("fk_provisioning_logs_directory_id_directories"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provisioning_logs")),
    )
    with op.batch_alter_table("provisioning_logs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_provisioning_logs_directory_id_received_at"),
            ["directory_id", "received_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_provisioning_logs_directory_id_status_received_at"),
            ["directory_id", "status", "received_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_provisioning_logs_directory_id_user_name"),
            ["directory_id", "user_name"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_provisioning_logs_received_at"), ["received_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_provisioning_logs_request_id"), ["request_id"], unique=False
        )

    op.create_table(
        "setup_links",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("organization_id", sa.String(length=36), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("directory_id", sa.String(length=36), nullable=True),
        sa.Column("token_revealed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["directory_id"],
            ["directories.id"],
            name=op.f("fk_setup_links_directory_id_directories"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_setup_links_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_setup_links")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_setup_links_secret_hash")),
    )
    with op.batch_alter_table("setup_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_setup_links_organization_id"), ["organization_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("setup_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_setup_links_organization_id"))

    op.drop_table("setup_links")
    with op.batch_alter_table("provisioning_logs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provisioning_logs_request_id"))
        batch_op.drop_index(batch_op.f("ix_provisioning_logs_received_at"))
        batch_op.drop_index(batch_op.f("ix_provisioning_logs_directory_id_user_name"))
        batch_op.drop_index(batch_op.f("ix_provisioning_logs_directory_id_status_received_at"))
        batch_op.drop_index(batch_op.f("ix_provisioning_logs_directory_id_received_at"))

    op.drop_table("provisioning_logs")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_organization_id_seq"))
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))

    op.drop_table("audit_log")
    op.drop_table("admin_keys")
