"""Recording each change in the outbox, inside the transaction that makes it."""

from typing import Any

from sqlalchemy import Connection

from scimgate.store import outbox
from scimgate.store.ids import new_id, utcnow


def record(
    conn: Connection, directory_id: str, change_type: str, resource_id: str, data: dict[str, Any]
) -> None:
    """Append one change (``user.created``, ``group.user_added``…) for the directory."""
    outbox.append(
        conn,
        directory_id,
        outbox.Change(
            id=new_id(),
            type=change_type,
            resource_id=resource_id,
            occurred_at=utcnow(),
            data=data,
        ),
    )
