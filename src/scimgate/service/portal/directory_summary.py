"""A directory at a glance: its settings, how many users and groups, when its IdP last called."""

from datetime import datetime

from sqlalchemy import Engine

from scimgate.records import frozen
from scimgate.service.directories import existing_directory
from scimgate.store import tenants
from scimgate.store.resource_tables import GROUPS, USERS
from scimgate.store.tenants import Directory
from scimgate.store.transactions import reading


@frozen
class DirectorySummary:
    directory: Directory
    users: int
    groups: int
    last_request_at: datetime | None
    """The latest use of any of its SCIM tokens (recorded to the minute)."""


def directory_summary(engine: Engine, directory_id: str) -> DirectorySummary:
    """``UnknownDirectory`` for an unknown directory."""
    with reading(engine) as conn:
        directory = existing_directory(conn, directory_id)
        users = USERS.count(conn, directory_id, None)
        groups = GROUPS.count(conn, directory_id, None)
        used = [token.last_used_at for token in tenants.list_tokens(conn, directory_id)]
    last = max((at for at in used if at is not None), default=None)
    return DirectorySummary(directory, users, groups, last)
