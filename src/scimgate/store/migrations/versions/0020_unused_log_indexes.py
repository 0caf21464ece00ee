"""The provisioning log's two userName indexes go: no query can use them.

A search of a directory's log by user matches ``lower(user_name)`` (or, with
encryption at rest, ``user_name_key``) *or* ``resource_id``, so it walks the
directory's entries newest first by ``(directory_id, received_at)``, as it did
with these indexes. Every SCIM request writes an entry, and each index is one
more B-tree written per entry for nothing.

Revision ID: 0020
Revises: 0019
"""

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_INDEXES = {
    "ix_provisioning_logs_directory_id_user_name": ["directory_id", "user_name"],
    "ix_provisioning_logs_directory_id_user_name_key": ["directory_id", "user_name_key"],
}


def upgrade() -> None:
    for name in _INDEXES:
        op.drop_index(name, table_name="provisioning_logs")


def downgrade() -> None:
    for name, columns in _INDEXES.items():
        op.create_index(name, "provisioning_logs", columns)
