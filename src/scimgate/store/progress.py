"""Named positions that background work has reached (``worker_cursors``)."""

from sqlalchemy import Connection, select, update

from scimgate.store.tables import worker_cursors


def position(conn: Connection, name: str, *, for_update: bool = False) -> int:
    """Where the named work stands (0 before it ever ran)."""
    query = select(worker_cursors.c.position).where(worker_cursors.c.name == name)
    found = conn.execute(query.with_for_update() if for_update else query).scalar()
    return int(found) if found is not None else 0


def advance(conn: Connection, name: str, to: int) -> None:
    """Move a position forward; it never moves back."""
    query = select(worker_cursors.c.position).where(worker_cursors.c.name == name)
    current = conn.execute(query.with_for_update()).scalar()
    if current is None:
        conn.execute(worker_cursors.insert().values(name=name, position=to))
    elif current < to:
        conn.execute(
            update(worker_cursors).where(worker_cursors.c.name == name).values(position=to)
        )
