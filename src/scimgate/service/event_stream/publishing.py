"""Publishing a transaction's events, or holding them back: the safety valve and dry runs.

A misconfigured IdP assignment can deactivate a whole company in one sync.
When a directory's deprovisionings within its window pass its threshold, the
valve trips: the IdP's requests are still accepted and stored, but from then
on the directory's events are held back from the app (all of them, so that a
later event never overtakes a held one), an alert event goes out, and an
administrator releases or discards what was held. A directory created in
dry-run mode holds everything from the start, until its first sync is reviewed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from scimgate.events.encoding import encoded
from scimgate.events.models import (
    DEPROVISIONING_TYPES,
    Deprovisioning,
    DeprovisionReason,
    DirectoryData,
    EventType,
    UserData,
)
from scimgate.records import frozen
from scimgate.service.directories import existing_directory, locked_directory
from scimgate.service.errors import UnknownDirectory
from scimgate.service.event_stream.payloads import directory_info
from scimgate.store import events, held_events, offboarding, tenants
from scimgate.store.errors import NotFound
from scimgate.store.events import NewEvent
from scimgate.store.ids import new_id, utcnow
from scimgate.store.resource_tables import USERS
from scimgate.store.tenants import LIVE, Directory
from scimgate.store.transactions import reading, writing

PERCENT_RULE_FLOOR = 5
"""The share-of-users rule needs at least this many deprovisionings, so that one
leaver in a directory of five does not trip the valve."""


@frozen
class Recorded:
    """An event recorded in a transaction, with its typed payload."""

    event: NewEvent
    data: Any


def publish_recorded(
    conn: Connection, recorded: Sequence[Recorded], seen: Mapping[str, Directory] | None = None
) -> None:
    """At the end of a changing transaction: record deprovisionings, then publish or hold.

    ``seen`` holds the directories as the transaction last read or wrote them
    (see :func:`scimgate.store.tenants.lock_directory`).
    """
    if not recorded:
        return
    now = utcnow()
    for directory_id in dict.fromkeys(item.event.directory_id for item in recorded):
        batch = [item for item in recorded if item.event.directory_id == directory_id]
        as_seen = (seen or {}).get(directory_id)
        if len(batch) == 1 and not _deprovisions(batch[0]):
            _publish_one(conn, batch[0].event, now, as_seen)
            continue
        directory = locked_directory(conn, directory_id, as_seen)
        offboarding.record(conn, [_deprovisioning(item) for item in batch if _deprovisions(item)])
        if directory.delivery == LIVE and any(_deprovisions(item) for item in batch):
            since = _window_start(directory, now)
            in_window = offboarding.count_since(conn, directory.id, since)
            if _trips(conn, directory, since, in_window):
                directory = _hold(conn, directory, now, in_window)
        new = [item.event for item in batch]
        if directory.delivery == LIVE:
            events.publish(conn, new, now)
        else:
            held_events.hold(conn, new)


def _publish_one(conn: Connection, event: NewEvent, now: datetime, seen: Directory | None) -> None:
    """The one event of a change that deprovisions nobody (most changes): published as its
    directory is locked, in one step, or else held back."""
    try:
        directory = events.publish_if_live(conn, event, now, seen)
    except NotFound:
        raise UnknownDirectory(event.directory_id) from None
    if directory.delivery != LIVE:
        held_events.hold(conn, [event])


def _deprovisions(item: Recorded) -> bool:
    return item.event.type in DEPROVISIONING_TYPES


def _deprovisioning(item: Recorded) -> Deprovisioning:
    data: UserData = item.data
    assert data.reason is not None
    return Deprovisioning(
        id=new_id(),
        organization_id=item.event.organization_id,
        directory_id=item.event.directory_id,
        user_id=data.user.id,
        user_name=data.user.username,
        reason=data.reason,
        event_id=item.event.id,
        requested_at=item.event.occurred_at,
        notified_at=None,
        notified_via=None,
        confirmed_at=None,
        confirmed_via=None,
    )


def _window_start(directory: Directory, now: datetime) -> datetime:
    start = now - timedelta(minutes=directory.safety_window_minutes)
    reset = directory.safety_reset_at
    return max(start, reset) if reset is not None else start


def _trips(conn: Connection, directory: Directory, since: datetime, in_window: int) -> bool:
    """More deprovisionings in the window than the directory allows, by count or by share."""
    if directory.safety_max_count and in_window > directory.safety_max_count:
        return True
    if not directory.safety_max_percent or in_window < PERCENT_RULE_FLOOR:
        return False
    # Users deleted in the window no longer have rows, but were part of the directory;
    # deactivated users still have theirs, and count once.
    deleted = offboarding.count_since(conn, directory.id, since, DeprovisionReason.deleted)
    population = USERS.count(conn, directory.id, None) + deleted
    return in_window * 100 > directory.safety_max_percent * population


def _hold(conn: Connection, directory: Directory, now: datetime, in_window: int) -> Directory:
    tenants.update_directory(conn, directory.id, delivery="held", held_since=now)
    publish_notice(
        conn,
        directory,
        EventType.directory_deprovisioning_held,
        deprovisionings_in_window=in_window,
    )
    return existing_directory(conn, directory.id)


def publish_notice(
    conn: Connection, directory: Directory, kind: EventType, **counts: int | None
) -> None:
    """Publish a directory-level notice at once: alerts are never held back."""
    data = DirectoryData(directory=directory_info(directory), **counts)
    event = NewEvent(
        id=new_id(),
        organization_id=directory.organization_id,
        directory_id=directory.id,
        type=kind.value,
        resource_id=directory.id,
        occurred_at=utcnow(),
        data=encoded(data),
    )
    events.publish(conn, [event], utcnow())


@frozen
class HeldSummary:
    directory_id: str
    delivery: str
    held_since: datetime | None
    held_events: int


def held_summary(engine: Engine, directory_id: str) -> HeldSummary:
    with reading(engine) as conn:
        directory = existing_directory(conn, directory_id)
        count = held_events.held_count(conn, directory_id)
    return HeldSummary(directory_id, directory.delivery, directory.held_since, count)


def release(engine: Engine, directory_id: str) -> int:
    """Publish a directory's held events in their original order and resume live delivery.

    A directory delivering live holds nothing: it is left as it is, without a
    notice, and its safety valve's window goes on.
    """
    with writing(engine) as conn:
        directory = locked_directory(conn, directory_id)
        if directory.delivery == LIVE:
            return 0
        held = held_events.held(conn, directory_id)
        now = utcnow()
        events.publish(conn, held, now)
        held_events.drop_held(conn, directory_id)
        _resume(conn, directory, now)
        publish_notice(
            conn, directory, EventType.directory_held_events_released, held_events=len(held)
        )
    return len(held)


def discard(engine: Engine, directory_id: str) -> int:
    """Drop a directory's held events: the app is never told of them. Resume live delivery.

    The changes themselves stay stored: scimgate holds what the IdP sent. The
    deprovisionings among them are marked discarded in the offboarding report. A
    directory delivering live is left as it is.
    """
    with writing(engine) as conn:
        directory = locked_directory(conn, directory_id)
        if directory.delivery == LIVE:
            return 0
        now = utcnow()
        held_ids = [event.id for event in held_events.held(conn, directory_id)]
        dropped = held_events.drop_held(conn, directory_id)
        offboarding.discard(conn, held_ids, now)
        _resume(conn, directory, now)
        publish_notice(
            conn, directory, EventType.directory_held_events_discarded, held_events=dropped
        )
    return dropped


def _resume(conn: Connection, directory: Directory, now: datetime) -> None:
    """Back to live delivery; deprovisionings so far no longer count towards the valve."""
    tenants.update_directory(
        conn, directory.id, delivery=LIVE, held_since=None, safety_reset_at=now
    )
