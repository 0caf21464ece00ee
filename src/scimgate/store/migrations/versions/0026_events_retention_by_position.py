"""Events lose their index on publication time, which no statement read.

Its one reader was to be retention's search for the first event published since
its cutoff (``store.events.purge_before``), and neither database takes it there:
the statement orders by position with a bound limit, so both walk the stream's
position index from its oldest event and stop at the first one kept, reading
only the events about to go (``tests/service/test_event_retention_plan.py``).
Every event inserted paid for the index all the same: an entry in one more
B-tree and, on SQLite, one more page written to the log by each commit that
publishes (about 1 of the 21 pages of a create committed alone).

Revision ID: 0026
Revises: 0025
"""

from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_events_published_at", table_name="events")


def downgrade() -> None:
    op.create_index("ix_events_published_at", "events", ["published_at"], unique=False)
