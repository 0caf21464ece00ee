"""A held directory's review: what the app would be told once its events are released.

The safety valve (or a dry run) holds a directory's events back; before an administrator
releases or discards them, the portal shows how many there are, over which span of time,
of which types, and a sample of the users they would deprovision.
"""

from datetime import datetime

from sqlalchemy import Engine

from scimgate.events.models import DEPROVISIONING_TYPES
from scimgate.records import frozen
from scimgate.service.directories import existing_directory
from scimgate.store import held_events
from scimgate.store.held_events import HeldOverview
from scimgate.store.tenants import Directory
from scimgate.store.transactions import reading

SAMPLE = 10
"""Users named in a review; the others are counted."""


@frozen
class Leaver:
    """A user a held event would deprovision."""

    user_id: str
    username: str
    display_name: str | None
    event_type: str
    reason: str | None
    occurred_at: datetime


@frozen
class HeldReview:
    directory: Directory
    held: HeldOverview
    leavers: list[Leaver]
    """The first deprovisionings held, up to ``SAMPLE``."""

    @property
    def deprovisionings(self) -> int:
        return sum(self.held.by_type.get(kind.value, 0) for kind in DEPROVISIONING_TYPES)


def review(engine: Engine, directory_id: str) -> HeldReview:
    """What a directory holds back; ``UnknownDirectory`` for an unknown directory."""
    kinds = sorted(kind.value for kind in DEPROVISIONING_TYPES)
    with reading(engine) as conn:
        directory = existing_directory(conn, directory_id)
        held = held_events.overview(conn, directory_id)
        first = held_events.first_of_types(conn, directory_id, kinds, SAMPLE)
    leavers = []
    for event in first:
        user = event.data.get("user", {})
        leavers.append(
            Leaver(
                user_id=str(event.resource_id),
                username=str(user.get("username", "")),
                display_name=user.get("display_name"),
                event_type=event.type,
                reason=event.data.get("reason"),
                occurred_at=event.occurred_at,
            )
        )
    return HeldReview(directory, held, leavers)
