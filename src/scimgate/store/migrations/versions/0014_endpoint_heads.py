"""Pending deliveries by endpoint: a worker goes on with an endpoint's oldest delivery.

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

INDEX = "ix_webhook_deliveries_endpoint_id_status_event_seq_id"


def upgrade() -> None:
    op.create_index(
        INDEX, "webhook_deliveries", ["endpoint_id", "status", "event_seq", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="webhook_deliveries")
