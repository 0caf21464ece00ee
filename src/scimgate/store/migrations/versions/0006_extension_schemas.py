"""Extension schemas registered per directory, and a revision that says when they changed.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "extension_schemas",
        sa.Column("directory_id", sa.String(36), nullable=False),
        sa.Column("id", sa.String(512), nullable=False),
        sa.Column("resource_type", sa.String(16), nullable=False),
        sa.Column(
            "definition",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["directory_id"],
            ["directories.id"],
            name="fk_extension_schemas_directory_id_directories",
        ),
        sa.PrimaryKeyConstraint("directory_id", "id", name="pk_extension_schemas"),
    )
    with op.batch_alter_table("directories") as batch_op:
        batch_op.add_column(
            sa.Column("schemas_revision", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("directories") as batch_op:
        batch_op.drop_column("schemas_revision")
    op.drop_table("extension_schemas")
