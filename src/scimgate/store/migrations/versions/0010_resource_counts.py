"""How many users and groups each directory holds, so unfiltered totals cost one row.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resource_counts",
        sa.Column("directory_id", sa.String(length=36), nullable=False),
        sa.Column("resource_type", sa.String(length=8), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["directory_id"],
            ["directories.id"],
            name=op.f("fk_resource_counts_directory_id_directories"),
        ),
        sa.PrimaryKeyConstraint("directory_id", "resource_type", name=op.f("pk_resource_counts")),
    )
    for table, resource_type in (("users", "user"), ("groups", "group")):
        op.execute(
            f"INSERT INTO resource_counts (directory_id, resource_type, total) "
            f"SELECT directory_id, '{resource_type}', COUNT(*) FROM {table} GROUP BY directory_id"
        )


def downgrade() -> None:
    op.drop_table("resource_counts")
