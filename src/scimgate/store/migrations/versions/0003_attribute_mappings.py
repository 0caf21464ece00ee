"""Attribute mappings: named custom attributes read from SCIM paths, per directory.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attribute_mappings",
        sa.Column("directory_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.ForeignKeyConstraint(
            ["directory_id"],
            ["directories.id"],
            name=op.f("fk_attribute_mappings_directory_id_directories"),
        ),
        sa.PrimaryKeyConstraint("directory_id", "name", name=op.f("pk_attribute_mappings")),
    )


def downgrade() -> None:
    op.drop_table("attribute_mappings")
