"""Directories remember their identity provider: declared, and recognised from requests.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("directories") as batch_op:
        batch_op.add_column(
            sa.Column("idp", sa.String(length=16), nullable=False, server_default="generic")
        )
        batch_op.add_column(sa.Column("idp_detected", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("directories") as batch_op:
        batch_op.drop_column("idp_detected")
        batch_op.drop_column("idp")
