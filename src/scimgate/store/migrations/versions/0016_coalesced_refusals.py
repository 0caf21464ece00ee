"""Refused credentials coalesce in the audit log: a count and the client address per row.

A flood of anonymous requests used to append one audit row each. The
refusals of one client address, action and reason within a minute now share
a row whose ``count`` grows; every earlier row counts one request.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("count", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("client", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_audit_log_client_at"), ["client", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_client_at"))
        batch_op.drop_column("client")
        batch_op.drop_column("count")
