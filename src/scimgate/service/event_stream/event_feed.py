"""Reading the event stream: pages after a cursor, acknowledgements, the offboarding report."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from scimgate.events.models import DEPROVISIONING_TYPES, SCHEMA_VERSION, Deprovisioning, EventType
from scimgate.records import frozen
from scimgate.scim.instants import rfc3339
from scimgate.service.directories import existing_directory
from scimgate.service.errors import Invalid, UnknownOrganization, UnknownUser
from scimgate.store import events, offboarding, progress, tenants
from scimgate.store.events import StoredEvent
from scimgate.store.ids import utcnow
from scimgate.store.resource_tables import USERS
from scimgate.store.transactions import reading, writing

PURGED_THROUGH = "events.purged_through"
"""The cursor name under which retention records the newest position it removed."""

KNOWN_TYPES = frozenset(kind.value for kind in EventType)


class CursorExpired(Exception):
    """The cursor points before events that retention has already removed."""


@frozen
class EventFilter:
    organization_id: str | None = None
    directory_id: str | None = None
    types: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = sorted(set(self.types) - KNOWN_TYPES)
        if unknown:
            raise Invalid(
                f"Unknown event type {unknown[0]!r}; the types are "
                + ", ".join(sorted(KNOWN_TYPES))
            )


@frozen
class EventPage:
    events: list[dict[str, Any]]
    next_cursor: int
    """Pass as ``after`` for the next page; equal to the request's cursor when nothing came."""


def wire(event: StoredEvent) -> dict[str, Any]:
    """An event as the API and webhooks send it (the envelope of ``scimgate.events.models``)."""
    return {
        "id": event.id,
        "type": event.type,
        "sequence": event.seq,
        "schema_version": SCHEMA_VERSION,
        "organization_id": event.organization_id,
        "directory_id": event.directory_id,
        # In UTC whatever zone the database session reads timestamps in.
        "occurred_at": rfc3339(event.occurred_at),
        "data": event.data,
    }


def read_events(engine: Engine, after: int, limit: int, where: EventFilter) -> EventPage:
    """Published events after ``after``, oldest first; telling the app of deprovisionings.

    ``after=0`` reads from the oldest event kept: it is where a new reader, or
    one whose cursor expired, starts (and then reconciles with the directory).
    The cursor is an event's ``sequence``: its position in the stream.
    """
    number_committed(engine)
    with reading(engine) as conn:
        if 0 < after < progress.position(conn, PURGED_THROUGH):
            raise CursorExpired(
                f"cursor {after} is older than the retention window; start again from 0 "
                "and reconcile with the directory's users"
            )
        found = events.page(
            conn,
            after,
            limit,
            organization_id=where.organization_id,
            directory_id=where.directory_id,
            types=where.types,
        )
    _mark_notified(engine, found, "events_api")
    return EventPage([wire(event) for event in found], found[-1].seq if found else after)


def peek(engine: Engine, directory_id: str, after: int, limit: int) -> list[dict[str, Any]]:
    """A directory's published events after ``after``, oldest first, read without telling
    the app of anything: for a rehearsal to check what its steps published."""
    number_committed(engine)
    with reading(engine) as conn:
        found = events.page(conn, after, limit, organization_id=None, directory_id=directory_id)
    return [wire(event) for event in found]


def latest_cursor(engine: Engine) -> int:
    """The cursor of the newest event: start here to receive only what comes next.

    Retention may have removed every event; the cursor still never goes back.
    """
    number_committed(engine)
    with reading(engine) as conn:
        return max(events.last_seq(conn), progress.position(conn, PURGED_THROUGH))


def number_committed(engine: Engine) -> None:
    """Give the events committed so far their positions, before reading the stream by position.

    A transaction of its own, and no work on SQLite (see ``store/events.py``).
    """
    if engine.dialect.name == "postgresql":
        with writing(engine) as conn:
            events.number_committed(conn)


def _mark_notified(engine: Engine, found: Sequence[StoredEvent], via: str) -> None:
    told = [event.id for event in found if event.type in DEPROVISIONING_TYPES]
    if told:
        with writing(engine) as conn:
            offboarding.mark_notified(conn, told, utcnow(), via)


def note_delivered(conn: Connection, delivered: StoredEvent, *, revocation_hook: bool) -> None:
    """A webhook endpoint answered 2xx: the app was told; a revocation hook also confirms.

    Runs in the transaction that records the delivery, so the two never disagree.
    """
    if delivered.type not in DEPROVISIONING_TYPES:
        return
    now = utcnow()
    offboarding.mark_notified(conn, [delivered.id], now, "webhook")
    if revocation_hook:
        offboarding.confirm_events(conn, [delivered.id], now, "revocation_hook")


def confirm_revoked(engine: Engine, directory_id: str, user_id: str) -> list[str]:
    """The app says it revoked the user's access; returns the deprovisionings confirmed."""
    with writing(engine) as conn:
        existing_directory(conn, directory_id)
        confirmed = offboarding.confirm_user(conn, directory_id, user_id, utcnow(), "api")
        if not confirmed:
            _known_user(conn, directory_id, user_id, events_read=False)
        return confirmed


def offboarding_report(
    engine: Engine,
    organization_id: str,
    since: datetime,
    until: datetime,
    directory_id: str | None = None,
) -> list[Deprovisioning]:
    """Every deprovisioning the organization's IdPs asked for in a time range."""
    if until <= since:
        raise Invalid(
            "the end of the range must come after its start", subject="Offboarding report"
        )
    with reading(engine) as conn:
        if tenants.get_organization(conn, organization_id) is None:
            raise UnknownOrganization(organization_id)
        return offboarding.report(conn, organization_id, since, until, directory_id)


def user_history(engine: Engine, directory_id: str, user_id: str) -> list[dict[str, Any]]:
    """Every published event about a user, oldest first."""
    number_committed(engine)
    with reading(engine) as conn:
        existing_directory(conn, directory_id)
        found = events.resource_events(conn, directory_id, user_id)
        if not found:
            _known_user(conn, directory_id, user_id, events_read=True)
        return [wire(event) for event in found]


def _known_user(conn: Connection, directory_id: str, user_id: str, *, events_read: bool) -> None:
    """``UnknownUser`` unless the directory holds the user, or held it (its events remain;
    ``events_read``: the caller found none already)."""
    # An id with U+0000 names nothing, and PostgreSQL text cannot even hold it.
    if "\x00" not in user_id:
        if USERS.get(conn, directory_id, user_id) is not None:
            return
        if not events_read and events.resource_events(conn, directory_id, user_id):
            return
    raise UnknownUser(directory_id, user_id)
