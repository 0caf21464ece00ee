"""Rewriting stored event payloads about one resource (erasure of personal data)."""

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, select, update

from scimgate.store.events import open_payload, seal_payload
from scimgate.store.tables.event_stream import events, held_events


def rewrite_payloads(
    conn: Connection,
    directory_id: str,
    resource_id: str,
    rewrite: Callable[[dict[str, Any]], dict[str, Any]],
) -> int:
    """Replace the payload of every published or held event about a resource; returns how many."""
    count = 0
    for table, key in ((events, events.c.seq), (held_events, held_events.c.position)):
        rows = conn.execute(
            select(key, table.c.id, table.c.data).where(
                table.c.directory_id == directory_id, table.c.resource_id == resource_id
            )
        ).all()
        for row_key, event_id, stored in rows:
            data = dict(open_payload(conn, directory_id, event_id, stored))
            rewritten = seal_payload(conn, directory_id, event_id, rewrite(data))
            conn.execute(update(table).where(key == row_key).values(data=rewritten))
        count += len(rows)
    return count
