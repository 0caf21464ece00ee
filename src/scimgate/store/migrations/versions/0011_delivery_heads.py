"""Pending deliveries by line: the worker finds each line's head in one pass.

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

INDEX = "ix_webhook_deliveries_status_endpoint_id_directory_id_event_seq"


def upgrade() -> None:
    op.create_index(
        INDEX,
        "webhook_deliveries",
        ["status", "endpoint_id", "directory_id", "event_seq"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="webhook_deliveries")
