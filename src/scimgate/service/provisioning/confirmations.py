"""Remembering when the IdP last sent or asked for each resource, and what it has stopped sending.

Microsoft Entra re-reads every assigned user each cycle and Okta's imports page
through everything, so a resource the IdP stops mentioning has fallen out of
its scope, often an account that slipped through deprovisioning. Every read or
write of a resource by the IdP marks it confirmed, at most once per
``confirmation_interval``.

A write confirms within its own transaction. A read writes nothing itself: when
the SCIM edge collects them (``deferred``), its confirmations travel with the
request's provisioning-log entry and are written in the log writer's batch, after
the answer has been handed over (``apply``); outside the edge they are written at once.
"""

from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine

from scimgate.records import frozen
from scimgate.service.directories import existing_directory
from scimgate.service.errors import Invalid
from scimgate.service.provisioning.scope import Scope
from scimgate.store.ids import utcnow
from scimgate.store.resource_tables import GROUPS, USERS, ResourceTable
from scimgate.store.stored_resources import StoredResource
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


@frozen
class Confirmation:
    """Resources a read showed the IdP, to be marked confirmed as of ``at``."""

    directory_id: str
    table: ResourceTable
    resource_ids: Sequence[str]
    at: datetime


_collected: ContextVar[list[Confirmation] | None] = ContextVar("confirmations", default=None)


def deferred() -> "_Deferred":
    """Collect the confirmations of the reads made within, instead of writing them."""
    return _Deferred()


class _Deferred:
    """``deferred``'s block: a class rather than a generator's context manager, which costs
    about a microsecond more to enter and leave, and every SCIM request runs in one."""

    __slots__ = ("_token",)

    def __enter__(self) -> list[Confirmation]:
        pending: list[Confirmation] = []
        self._token = _collected.set(pending)
        return pending

    def __exit__(self, *_: object) -> None:
        _collected.reset(self._token)


def confirm_seen(scope: Scope, table: ResourceTable, rows: Iterable[StoredResource]) -> None:
    """After a read: mark what the IdP was shown as confirmed, when it is time (see above)."""
    stale = _stale(scope, rows)
    if not stale:
        return
    confirmation = Confirmation(scope.directory_id, table, stale, utcnow())
    pending = _collected.get()
    if pending is not None:
        pending.append(confirmation)
        return
    with writing(scope.engine) as conn:
        apply(conn, [confirmation])


def apply(conn: Connection, confirmations: Iterable[Confirmation]) -> None:
    """Within a writing transaction: write confirmations collected by reads."""
    for each in confirmations:
        each.table.confirm(conn, each.directory_id, each.resource_ids, each.at)


@frozen
class Unconfirmed:
    kind: str
    id: str
    name: str
    confirmed_at: datetime | None


def drift_cutoff(since: datetime | None, older_than_hours: float | None) -> datetime:
    """The instant a drift report looks back to: a given time (UTC when naive), or an age."""
    if (since is None) == (older_than_hours is None):
        raise Invalid(
            "give exactly one of a time (since) or an age in hours (older than)",
            subject="Drift report",
        )
    if since is not None:
        return since.replace(tzinfo=since.tzinfo or UTC)
    try:
        return datetime.now(UTC) - timedelta(hours=older_than_hours or 0)
    except OverflowError:
        raise Invalid(
            f"an age of {older_than_hours} hours reaches outside the calendar",
            subject="Drift report",
        ) from None


def drift_report(engine: Engine, directory_id: str, since: datetime) -> list[Unconfirmed]:
    """Users and groups the IdP has not sent or asked for since ``since``."""
    with reading(engine) as conn:
        existing_directory(conn, directory_id)
        return [
            Unconfirmed(kind, resource_id, name, confirmed_at)
            for kind, table in (("user", USERS), ("group", GROUPS))
            for resource_id, name, confirmed_at in table.unconfirmed_since(
                conn, directory_id, since
            )
        ]
