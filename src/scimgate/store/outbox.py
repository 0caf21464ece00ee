"""The transactional outbox: a change and the record of it commit together or not at all.

Delivery (events API, webhooks) reads this table; writers only append to it.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from scimgate.store.tables import outbox


@dataclass(frozen=True)
class Change:
    """One change to a directory, as it will be announced."""

    id: str
    type: str
    resource_id: str
    occurred_at: datetime
    data: dict[str, Any]


def append(conn: Connection, directory_id: str, change: Change) -> None:
    conn.execute(outbox.insert().values(directory_id=directory_id, **vars(change)))
