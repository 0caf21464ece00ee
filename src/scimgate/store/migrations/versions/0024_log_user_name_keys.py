"""A search of the provisioning log by userName folds case as SCIM does, on every database.

The search matched ``lower(user_name)``, and SQLite's ``lower()`` folds ASCII
letters only: "Élise@example.com", logged as the IdP spelled it, was not found
by "élise@example.com". Every entry naming a user now holds a key of its folded
userName in ``user_name_key``, which held one only with encryption at rest on
(the keyed hash): without encryption, the SHA-256 of the folded form, which
fits the column however long the name. The entries already written get theirs
here, a batch at a time (200,000 entries took 3.5 s on SQLite and 9.1 s on
PostgreSQL on a 2-core machine), and the index on ``lower(user_name)`` goes;
the partial index on ``user_name_key`` (migration 0022) serves the search.

Revision ID: 0024
Revises: 0023
"""

import hashlib
from unicodedata import normalize

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

_TABLE = "provisioning_logs"
_FOLDED_INDEX = "ix_provisioning_logs_directory_id_user_name_folded"
_BATCH = 1000

_logs = sa.table(
    _TABLE,
    sa.column("id", sa.String),
    sa.column("user_name", sa.String),
    sa.column("user_name_key", sa.String),
)


def _key(user_name: str) -> str:
    """The plain key as ``store.provisioning_logs.plain_name_key`` writes it, as it was here."""
    folded = normalize("NFC", normalize("NFC", user_name).lower())
    return hashlib.sha256(folded.encode()).hexdigest()


def upgrade() -> None:
    connection = op.get_bind()
    # Entries with a sealed userName have their keyed hash already: only plain ones lack a key.
    missing = (
        sa.select(_logs.c.id, _logs.c.user_name)
        .where(_logs.c.user_name.is_not(None), _logs.c.user_name_key.is_(None))
        .order_by(_logs.c.id)
        .limit(_BATCH)
    )
    keyed = (
        _logs.update()
        .where(_logs.c.id == sa.bindparam("entry_id"))
        .values(user_name_key=sa.bindparam("key"))
    )
    after = ""
    while rows := connection.execute(missing.where(_logs.c.id > after)).all():
        connection.execute(
            keyed, [{"entry_id": row.id, "key": _key(row.user_name)} for row in rows]
        )
        after = rows[-1].id
    op.drop_index(_FOLDED_INDEX, table_name=_TABLE)


def downgrade() -> None:
    op.create_index(
        _FOLDED_INDEX,
        _TABLE,
        ["directory_id", sa.text("lower(user_name)"), "received_at"],
        sqlite_where=sa.text("user_name IS NOT NULL"),
        postgresql_where=sa.text("user_name IS NOT NULL"),
    )
    # The plain keys stay: the code before searches plain entries by lower(user_name), and
    # no keyed hash it searches by equals a plain key.
