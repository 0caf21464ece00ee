"""A directory's configuration stamp: what lets each process cache its configuration.

Role rules and attribute mappings are read by every change of a user. Each
process keeps them per directory with the stamp they were read at; every
change of them gives the directory's ``config_stamp`` a new random value, which
a writing transaction reads with the directory row, so a change made through
any process is used by the next write through every other.

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("directories", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("config_stamp", sa.BigInteger(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    # Not in batch mode: SQLite (3.35 and later) drops a plain column in place, where a
    # batch would copy the table, which its foreign keys refuse once directories exist.
    op.drop_column("directories", "config_stamp")
