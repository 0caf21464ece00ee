"""Encryption at rest: e-mail and log lookup hashes, and room for encrypted personal text.

Encrypted values are longer than the plaintext, so the personal text columns
lose their length cap on PostgreSQL (a catalog change, no table rewrite).
SQLite does not enforce declared lengths, and its tables stay as they are.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_WIDENED = [
    ("users", "user_name", 512, False),
    ("users", "display_name", 512, True),
    ("groups", "display_name", 512, False),
    ("group_members", "display", 512, True),
    ("deprovisionings", "user_name", 512, True),
    ("user_tombstones", "user_name", 512, True),
    ("user_tombstones", "external_id", 512, True),
    ("provisioning_logs", "user_name", 512, True),
    ("provisioning_logs", "query", 4096, True),
    ("provisioning_logs", "error_detail", 2048, True),
    ("provisioning_logs", "diagnosis", 2048, True),
]


def upgrade() -> None:
    op.create_table(
        "user_email_hashes",
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("directory_id", sa.String(36), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_user_email_hashes_user_id_users",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["directory_id"],
            ["directories.id"],
            name="fk_user_email_hashes_directory_id_directories",
        ),
        sa.PrimaryKeyConstraint("user_id", "hash", name="pk_user_email_hashes"),
    )
    op.create_index(
        "ix_user_email_hashes_directory_id_hash", "user_email_hashes", ["directory_id", "hash"]
    )
    op.add_column("provisioning_logs", sa.Column("user_name_key", sa.String(64)))
    op.create_index(
        "ix_provisioning_logs_directory_id_user_name_key",
        "provisioning_logs",
        ["directory_id", "user_name_key"],
    )
    if op.get_bind().dialect.name == "postgresql":
        for table, column, length, nullable in _WIDENED:
            op.alter_column(
                table,
                column,
                type_=sa.String(),
                existing_type=sa.String(length),
                existing_nullable=nullable,
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column, length, nullable in _WIDENED:
            op.alter_column(
                table,
                column,
                type_=sa.String(length),
                existing_type=sa.String(),
                existing_nullable=nullable,
            )
    op.drop_index("ix_provisioning_logs_directory_id_user_name_key", table_name="provisioning_logs")
    with op.batch_alter_table("provisioning_logs") as batch:
        batch.drop_column("user_name_key")
    op.drop_index("ix_user_email_hashes_directory_id_hash", table_name="user_email_hashes")
    op.drop_table("user_email_hashes")
