"""Rate-limit buckets unlogged (PostgreSQL): no write-ahead log, no flush to wait for.

A bucket changes on every SCIM request, and losing the last moments of its
state in a crash of the database only refills it. Unlogged, the row update
writes no WAL and its commit does not wait for a disk flush. After a crash
PostgreSQL empties the table, and every bucket starts full.

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE rate_buckets SET UNLOGGED")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE rate_buckets SET LOGGED")
