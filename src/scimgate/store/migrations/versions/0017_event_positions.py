"""Events get a stream position apart from their row number, so writers need no global lock.

On PostgreSQL, ``seq`` comes from a sequence when a row is inserted, not when
its transaction commits; publishing used to take one advisory lock for the
whole database so that ``seq`` order was commit order. ``position`` is now
given after commit (see ``store/events.py``) and readers follow it. Every
existing event keeps its ``seq`` as its position, so a reader's cursor, the
webhook fan-out's position and the deliveries' ``event_seq`` keep their
meaning. On SQLite a new event is inserted with its ``seq`` as position.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

NUMBERED = "events.numbered"
"""The ``worker_cursors`` row holding the last position given (PostgreSQL)."""


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("position", sa.BigInteger(), nullable=True))
    op.execute("UPDATE events SET position = seq")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_directory_id_seq"))
        batch_op.drop_index(batch_op.f("ix_events_organization_id_seq"))
        batch_op.create_index(batch_op.f("ix_events_position"), ["position"], unique=True)
        batch_op.create_index(
            batch_op.f("ix_events_directory_id_position"), ["directory_id", "position"]
        )
        batch_op.create_index(
            batch_op.f("ix_events_organization_id_position"), ["organization_id", "position"]
        )
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        return
    # Positions to come start after every seq ever given, so no cursor a reader
    # holds (even one past events retention removed) can name a future event.
    sequence = bind.execute(sa.text("SELECT pg_get_serial_sequence('events', 'seq')")).scalar()
    last = bind.execute(
        sa.text(f"SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {sequence}")
    ).scalar()
    op.execute(
        sa.text(
            "INSERT INTO worker_cursors (name, position) VALUES (:name, :last) "
            "ON CONFLICT (name) DO UPDATE SET position = GREATEST(worker_cursors.position, :last)"
        ).bindparams(name=NUMBERED, last=int(last or 0))
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        forget = sa.text("DELETE FROM worker_cursors WHERE name = :name")
        op.execute(forget.bindparams(name=NUMBERED))
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_organization_id_position"))
        batch_op.drop_index(batch_op.f("ix_events_directory_id_position"))
        batch_op.drop_index(batch_op.f("ix_events_position"))
        batch_op.create_index(
            batch_op.f("ix_events_organization_id_seq"), ["organization_id", "seq"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_events_directory_id_seq"), ["directory_id", "seq"], unique=False
        )
    # Not in batch mode: SQLite (3.35 and later) drops a column no index holds in place,
    # where a batch would copy the table and lose its AUTOINCREMENT, which numbers events.
    op.drop_column("events", "position")
