"""Webhook endpoints, their signing secrets, and which events each one receives."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from scimgate.records import frozen
from scimgate.store.tables.event_stream import events
from scimgate.store.tables.webhooks import webhook_endpoints, webhook_secrets
from scimgate.store.webhook_deliveries import EventRef, Published


@frozen
class Endpoint:
    id: str
    organization_id: str | None
    """None: the endpoint receives the events of every organization."""

    url: str
    description: str
    event_types: list[str]
    """The types it receives; empty for all."""

    revocation_hook: bool
    """A 2xx answer confirms that the app revoked a deprovisioned user's access."""

    enabled: bool
    disabled_reason: str | None
    created_at: datetime

    def wants(self, event: Published) -> bool:
        """Whether fan-out queues an event for this endpoint.

        It must be of the endpoint's organization and types, and published since
        the endpoint was registered: older events reach it only by replay.
        """
        return (
            self.organization_id in (None, event.organization_id)
            and (not self.event_types or event.type in self.event_types)
            and event.published_at >= self.created_at
        )


@frozen
class Secret:
    id: str
    endpoint_id: str
    secret: str
    created_at: datetime
    expires_at: datetime | None


def insert_endpoint(conn: Connection, endpoint: Endpoint) -> None:
    conn.execute(webhook_endpoints.insert().values(**vars(endpoint)))


def get_endpoint(
    conn: Connection, endpoint_id: str, *, for_update: bool = False
) -> Endpoint | None:
    query = select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
    row = conn.execute(query.with_for_update() if for_update else query).first()
    return _endpoint(row._mapping) if row else None


def list_endpoints(conn: Connection, organization_id: str | None = None) -> list[Endpoint]:
    """Every endpoint, or those of one organization (endpoints for all organizations included)."""
    query = select(webhook_endpoints)
    if organization_id is not None:
        query = query.where(
            or_(
                webhook_endpoints.c.organization_id == organization_id,
                webhook_endpoints.c.organization_id.is_(None),
            )
        )
    rows = conn.execute(query.order_by(webhook_endpoints.c.created_at, webhook_endpoints.c.id))
    return [_endpoint(row._mapping) for row in rows]


def endpoints_by_id(conn: Connection, ids: Sequence[str]) -> dict[str, Endpoint]:
    if not ids:
        return {}
    rows = conn.execute(select(webhook_endpoints).where(webhook_endpoints.c.id.in_(ids)))
    return {row.id: _endpoint(row._mapping) for row in rows}


def delete_endpoint(conn: Connection, endpoint_id: str) -> bool:
    """Remove an endpoint; its secrets, deliveries and attempts go with it (cascades)."""
    result = conn.execute(delete(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id))
    return result.rowcount == 1


def set_enabled(conn: Connection, endpoint_id: str, enabled: bool, reason: str | None) -> bool:
    """Enable or disable an endpoint; False when it already was in that state."""
    result = conn.execute(
        update(webhook_endpoints)
        .where(webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.enabled != enabled)
        .values(enabled=enabled, disabled_reason=None if enabled else reason)
    )
    return result.rowcount == 1


def insert_secret(conn: Connection, secret: Secret) -> None:
    conn.execute(webhook_secrets.insert().values(**vars(secret)))


def secrets_of(conn: Connection, endpoint_id: str) -> list[Secret]:
    """An endpoint's secrets, newest first, expired ones included."""
    rows = conn.execute(
        select(webhook_secrets)
        .where(webhook_secrets.c.endpoint_id == endpoint_id)
        .order_by(webhook_secrets.c.created_at.desc(), webhook_secrets.c.id.desc())
    )
    return [Secret(**row._mapping) for row in rows]


def valid_secrets(
    conn: Connection, endpoint_ids: Sequence[str], at: datetime
) -> dict[str, list[str]]:
    """The secrets that sign at an instant, per endpoint, newest first."""
    if not endpoint_ids:
        return {}
    rows = conn.execute(
        select(webhook_secrets.c.endpoint_id, webhook_secrets.c.secret)
        .where(webhook_secrets.c.endpoint_id.in_(endpoint_ids), _valid_at(at))
        .order_by(webhook_secrets.c.created_at.desc(), webhook_secrets.c.id.desc())
    )
    found: dict[str, list[str]] = {endpoint_id: [] for endpoint_id in endpoint_ids}
    for row in rows:
        found[row.endpoint_id].append(row.secret)
    return found


def expire_secrets(conn: Connection, endpoint_id: str, at: datetime, by: datetime) -> None:
    """Rotation: every secret still valid at ``at`` stops being valid at ``by`` (or sooner)."""
    conn.execute(
        update(webhook_secrets)
        .where(
            webhook_secrets.c.endpoint_id == endpoint_id,
            or_(webhook_secrets.c.expires_at.is_(None), webhook_secrets.c.expires_at > by),
        )
        .values(expires_at=by)
    )
    conn.execute(
        delete(webhook_secrets).where(
            webhook_secrets.c.endpoint_id == endpoint_id, webhook_secrets.c.expires_at <= at
        )
    )


def events_in_range(
    conn: Connection,
    endpoint: Endpoint,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    from_seq: int | None = None,
    to_seq: int | None = None,
    limit: int,
) -> list[EventRef]:
    """The endpoint's events in a time or sequence range (bounds inclusive, ``until`` not).

    Sequences are positions in the stream; events not numbered yet are left out.
    """
    position = events.c.position
    query = select(position, events.c.id, events.c.directory_id).where(position.is_not(None))
    if endpoint.organization_id is not None:
        query = query.where(events.c.organization_id == endpoint.organization_id)
    if endpoint.event_types:
        query = query.where(events.c.type.in_(endpoint.event_types))
    if since is not None:
        query = query.where(events.c.occurred_at >= since)
    if until is not None:
        query = query.where(events.c.occurred_at < until)
    if from_seq is not None:
        query = query.where(position >= from_seq)
    if to_seq is not None:
        query = query.where(position <= to_seq)
    rows = conn.execute(query.order_by(position).limit(limit))
    return [EventRef(row.position, row.id, row.directory_id) for row in rows]


def _valid_at(at: datetime) -> ColumnElement[bool]:
    return or_(webhook_secrets.c.expires_at.is_(None), webhook_secrets.c.expires_at > at)


def _endpoint(row: Any) -> Endpoint:
    fields = dict(row)
    fields["event_types"] = list(fields["event_types"])
    return Endpoint(**fields)
