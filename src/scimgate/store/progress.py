"""Named positions that background work has reached (``worker_cursors``)."""

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from scimgate.store.tables.event_stream import worker_cursors


def position(conn: Connection, name: str) -> int:
    """Where the named work stands (0 before it ever ran)."""
    found = conn.execute(
        select(worker_cursors.c.position).where(worker_cursors.c.name == name)
    ).scalar()
    return int(found) if found is not None else 0


def lock(conn: Connection, name: str) -> int:
    """Lock the named position until the transaction ends, and return it.

    The row is created first if need be: locking a row that does not exist
    locks nothing, and two workers would race past each other.
    """
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(
        dialect.insert(worker_cursors)
        .values(name=name, position=0)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    locked = select(worker_cursors.c.position).where(worker_cursors.c.name == name)
    return int(conn.execute(locked.with_for_update()).scalar_one())


def advance(conn: Connection, name: str, to: int) -> None:
    """Move a position forward; it never moves back."""
    if lock(conn, name) < to:
        conn.execute(
            update(worker_cursors).where(worker_cursors.c.name == name).values(position=to)
        )
