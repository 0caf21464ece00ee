"""A search of the provisioning log by user reads only that user's entries.

It matches a userName in any case (or, with encryption at rest, its keyed hash)
or a resource id, so it is asked as two lookups whose answers are merged, each
served by an index in the order it pages: newest first. The indexes are partial:
an entry names no user and no resource for most requests (lookups and lists,
an IdP's commonest), and such an entry writes none of them.

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_TABLE = "provisioning_logs"


def upgrade() -> None:
    op.create_index(
        "ix_provisioning_logs_directory_id_user_name_folded",
        _TABLE,
        ["directory_id", sa.text("lower(user_name)"), "received_at"],
        sqlite_where=sa.text("user_name IS NOT NULL"),
        postgresql_where=sa.text("user_name IS NOT NULL"),
    )
    for column in ("user_name_key", "resource_id"):
        op.create_index(
            f"ix_provisioning_logs_directory_id_{column}",
            _TABLE,
            ["directory_id", column, "received_at"],
            sqlite_where=sa.text(f"{column} IS NOT NULL"),
            postgresql_where=sa.text(f"{column} IS NOT NULL"),
        )


def downgrade() -> None:
    for name in ("user_name_folded", "user_name_key", "resource_id"):
        op.drop_index(f"ix_provisioning_logs_directory_id_{name}", table_name=_TABLE)
