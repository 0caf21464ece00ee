"""A pulled directory whose Google Workspace lists nobody in scope can be emptied, once allowed.

A sync that finds nobody in scope while the directory has users refuses to
deprovision them (a wrong customer ID or scope looks the same as everyone
leaving). ``empty_refused_at`` records that refusal, so that the portal and the
management API can offer the way out; ``empty_allowed_at`` records that an
administrator allowed the next sync to deprovision everyone. Both are new,
empty columns: nothing to backfill.

Revision ID: 0025
Revises: 0024
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

_COLUMNS = ("empty_refused_at", "empty_allowed_at")


def upgrade() -> None:
    for name in _COLUMNS:
        op.add_column(
            "google_connections", sa.Column(name, sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    # Dropped in place: SQLite (3.35 and later) drops a column without copying the table.
    for name in reversed(_COLUMNS):
        op.drop_column("google_connections", name)
