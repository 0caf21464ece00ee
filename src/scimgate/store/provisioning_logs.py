"""The provisioning log: one row per authenticated SCIM request of a directory."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, or_, select

from scimgate.store.tables import provisioning_logs, user_tombstones


@dataclass(frozen=True)
class LogEntry:
    """A SCIM request as the log keeps it: no headers but the user agent, bodies scrubbed."""

    id: str
    directory_id: str
    request_id: str
    received_at: datetime
    method: str
    path: str
    query: str | None
    status: int
    latency_ms: int
    client: str | None
    user_agent: str | None
    scim_type: str | None
    error_detail: str | None
    resource_type: str | None
    resource_id: str | None
    user_name: str | None
    request_body: Any
    response_body: Any
    diagnosis: str | None


@dataclass(frozen=True)
class LogSearch:
    """Which entries of a directory to list, newest first."""

    directory_id: str
    limit: int
    status_from: int | None = None
    status_to: int | None = None
    """Inclusive bounds of the answer's status."""

    user: str | None = None
    """A userName (in any case) or a resource id."""

    since: datetime | None = None
    until: datetime | None = None
    before: tuple[datetime, str] | None = None
    """Keyset cursor: the (received_at, id) of the last entry of the previous page."""


_SUMMARY_COLUMNS = [
    column for column in provisioning_logs.c if column.name not in ("request_body", "response_body")
]


def insert(conn: Connection, entries: list[LogEntry]) -> None:
    if entries:
        conn.execute(provisioning_logs.insert(), [vars(entry) for entry in entries])


def get(conn: Connection, log_id: str, directory_id: str | None = None) -> LogEntry | None:
    """One entry with its bodies; within one directory when it is named."""
    query = select(provisioning_logs).where(provisioning_logs.c.id == log_id)
    if directory_id is not None:
        query = query.where(provisioning_logs.c.directory_id == directory_id)
    row = conn.execute(query).first()
    return LogEntry(**row._mapping) if row else None


def by_request_id(conn: Connection, request_id: str) -> LogEntry | None:
    row = conn.execute(
        select(provisioning_logs)
        .where(provisioning_logs.c.request_id == request_id)
        .order_by(provisioning_logs.c.received_at.desc())
        .limit(1)
    ).first()
    return LogEntry(**row._mapping) if row else None


def search(conn: Connection, where: LogSearch) -> list[LogEntry]:
    """A page of entries without their bodies, newest first (keyset on received_at, id)."""
    c = provisioning_logs.c
    query = select(*_SUMMARY_COLUMNS).where(c.directory_id == where.directory_id)
    if where.status_from is not None:
        query = query.where(c.status >= where.status_from)
    if where.status_to is not None:
        query = query.where(c.status <= where.status_to)
    if where.user is not None:
        # userName is case-insensitive in SCIM: the IdP and support may spell it differently.
        query = query.where(
            or_(func.lower(c.user_name) == where.user.lower(), c.resource_id == where.user)
        )
    if where.since is not None:
        query = query.where(c.received_at >= where.since)
    if where.until is not None:
        query = query.where(c.received_at < where.until)
    if where.before is not None:
        at, log_id = where.before
        query = query.where(or_(c.received_at < at, and_(c.received_at == at, c.id < log_id)))
    query = query.order_by(c.received_at.desc(), c.id.desc()).limit(where.limit)
    return [
        LogEntry(**row._mapping, request_body=None, response_body=None)
        for row in conn.execute(query)
    ]


def purge_before(conn: Connection, received_before: datetime) -> int:
    return conn.execute(
        delete(provisioning_logs).where(provisioning_logs.c.received_at < received_before)
    ).rowcount


def deleted_at(conn: Connection, directory_id: str, user_id: str) -> datetime | None:
    """When a deleted user of the directory was deleted, while its tombstone is kept."""
    found: datetime | None = conn.execute(
        select(user_tombstones.c.deleted_at).where(
            user_tombstones.c.directory_id == directory_id, user_tombstones.c.user_id == user_id
        )
    ).scalar()
    return found
