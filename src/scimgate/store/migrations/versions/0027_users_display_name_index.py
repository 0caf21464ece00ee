"""Users lose their index on ``(directory_id, display_name)``, which no statement read.

A filter or a ``sortBy`` on a user's ``displayName`` reads its stored document
(``store.query.attributes`` names the attributes read from columns, and it is not one);
the column is read only beside a membership, to name the member. Every user written paid
for the index all the same, and its keys arrive in no order: on SQLite, nearly every
create dirtied a page of its own in it, which its commit wrote to the write-ahead log and
the checkpoint copied again.

Revision ID: 0027
Revises: 0026
"""

from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_users_directory_id_display_name", table_name="users")


def downgrade() -> None:
    op.create_index(
        "ix_users_directory_id_display_name",
        "users",
        ["directory_id", "display_name"],
        unique=False,
    )
