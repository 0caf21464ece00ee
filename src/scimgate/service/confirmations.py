"""Remembering when the IdP last sent or asked for each resource, and what it has stopped sending.

Microsoft Entra re-reads every assigned user each cycle and Okta's imports page
through everything, so a resource the IdP stops mentioning has fallen out of
its scope, often an account that slipped through deprovisioning. Every read or
write of a resource by the IdP marks it confirmed, at most once per
``confirmation_interval`` so that reads rarely write.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine

from scimgate.service.scope import Scope
from scimgate.store import tenants
from scimgate.store.ids import utcnow
from scimgate.store.resources import GROUPS, USERS, ResourceTable, StoredResource
from scimgate.store.transactions import reading, writing


def _stale(scope: Scope, rows: Iterable[StoredResource]) -> list[str]:
    now = utcnow()
    interval = timedelta(seconds=scope.limits.confirmation_interval)
    return [r.id for r in rows if r.confirmed_at is None or now - r.confirmed_at >= interval]


def confirm_in(
    conn: Connection, scope: Scope, table: ResourceTable, rows: Iterable[StoredResource]
) -> None:
    """Within a writing transaction: mark these resources confirmed, if it is time."""
    stale = _stale(scope, rows)
    if stale:
        table.confirm(conn, scope.directory_id, stale, utcnow())


def confirm_seen(scope: Scope, table: ResourceTable, rows: Iterable[StoredResource]) -> None:
    """After a read: mark what the IdP was shown as confirmed, writing only when it is time."""
    stale = _stale(scope, rows)
    if stale:
        with writing(scope.engine) as conn:
            table.confirm(conn, scope.directory_id, stale, utcnow())


@dataclass(frozen=True)
class Unconfirmed:
    kind: str
    id: str
    name: str
    confirmed_at: datetime | None


def drift_cutoff(since: datetime | None, older_than_hours: float | None) -> datetime:
    """The instant a drift report looks back to: a given time (UTC when naive), or an age."""
    if (since is None) == (older_than_hours is None):
        raise ValueError("give exactly one of a time (since) or an age in hours (older than)")
    if since is not None:
        return since.replace(tzinfo=since.tzinfo or UTC)
    try:
        return datetime.now(UTC) - timedelta(hours=older_than_hours or 0)
    except OverflowError:
        raise ValueError(
            f"an age of {older_than_hours} hours reaches outside the calendar"
        ) from None


def drift_report(engine: Engine, directory_id: str, since: datetime) -> list[Unconfirmed]:
    """Users and groups the IdP has not sent or asked for since ``since``."""
    with reading(engine) as conn:
        tenants.existing_directory(conn, directory_id)
        return [
            Unconfirmed(kind, resource_id, name, confirmed_at)
            for kind, table in (("user", USERS), ("group", GROUPS))
            for resource_id, name, confirmed_at in table.unconfirmed_since(
                conn, directory_id, since
            )
        ]
