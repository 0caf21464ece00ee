"""The audit log of administrative actions: rows are inserted and read, never changed."""

from datetime import datetime

from sqlalchemy import Connection, func, or_, select, update

from scimgate.records import frozen
from scimgate.store.tables.logs import audit_log


@frozen
class AuditEntry:
    id: str
    at: datetime
    actor: str
    """``admin-token``, ``<key id> <key name>``, ``cli:<user>`` or ``unauthenticated``."""

    action: str
    """The route template (``POST /api/v1/keys``) or a command's verb (``key.create``)."""

    target_type: str | None
    target_id: str | None
    organization_id: str | None
    outcome: str
    """``ok``, ``refused`` (a 4xx answer) or ``error`` (a 5xx answer)."""

    detail: str | None
    count: int = 1
    """How many requests the row stands for: more than one only for refused credentials."""

    client: str | None = None
    """The client address of refused credentials."""


@frozen
class AuditQuery:
    since: datetime | None = None
    actor: str | None = None
    """An exact actor, or a key id (which matches that key whatever its name)."""

    organization_id: str | None = None
    before: int | None = None
    """Only rows older than this sequence number: the next page, newest first."""

    limit: int = 100


def append(conn: Connection, entry: AuditEntry) -> None:
    conn.execute(audit_log.insert().values(**vars(entry)))


def count_again(
    conn: Connection, actor: str, client: str, action: str, detail: str, since: datetime
) -> bool:
    """Add one to the newest row of an actor, address, action and detail since a time.

    False when there is none, for the caller to append one.
    """
    newest = (
        select(func.max(audit_log.c.seq))
        .where(
            audit_log.c.client == client,
            audit_log.c.at >= since,
            audit_log.c.actor == actor,
            audit_log.c.action == action,
            audit_log.c.detail == detail,
        )
        .scalar_subquery()
    )
    counted = conn.execute(
        update(audit_log).where(audit_log.c.seq == newest).values(count=audit_log.c.count + 1)
    )
    return counted.rowcount == 1


def entries(conn: Connection, query: AuditQuery) -> list[tuple[int, AuditEntry]]:
    """Entries matching a query with their sequence numbers, newest first."""
    statement = select(audit_log).order_by(audit_log.c.seq.desc()).limit(query.limit)
    if query.since is not None:
        statement = statement.where(audit_log.c.at >= query.since)
    if query.actor is not None:
        statement = statement.where(
            or_(
                audit_log.c.actor == query.actor,
                audit_log.c.actor.startswith(query.actor + " ", autoescape=True),
            )
        )
    if query.organization_id is not None:
        statement = statement.where(audit_log.c.organization_id == query.organization_id)
    if query.before is not None:
        statement = statement.where(audit_log.c.seq < query.before)
    found = []
    for row in conn.execute(statement):
        fields = dict(row._mapping)
        seq = int(fields.pop("seq"))
        found.append((seq, AuditEntry(**fields)))
    return found
