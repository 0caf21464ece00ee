"""When the IdP last sent or asked for each user and group (drift detection).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("users", "groups"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("confirmed_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    for table in ("users", "groups"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("confirmed_at")
