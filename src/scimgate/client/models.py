"""The typed models an application reads: events, their payloads, API answers.

The event models are scimgate's own (``scimgate.events.models``), so an app
parses exactly what the server publishes. The normalized user and group are
the shapes those events are made of.
"""

from typing import Literal

from pydantic import BaseModel

from scimgate.events.models import (
    DEPROVISIONING_TYPES,
    Deprovisioning,
    DeprovisionReason,
    DirectoryData,
    DirectoryGroup,
    DirectoryInfo,
    DirectoryUser,
    Event,
    EventData,
    EventType,
    GroupData,
    GroupRef,
    MembershipData,
    OffboardingData,
    UserData,
    UserState,
)

__all__ = [
    "DEPROVISIONING_TYPES",
    "DeprovisionReason",
    "Deprovisioning",
    "DirectoryData",
    "DirectoryGroup",
    "DirectoryInfo",
    "DirectoryUser",
    "Event",
    "EventData",
    "EventPage",
    "EventType",
    "GroupData",
    "GroupRef",
    "MembershipData",
    "OffboardingData",
    "UserData",
    "UserMatch",
    "UserState",
]


class EventPage(BaseModel):
    """One answer of the events API."""

    data: list[Event]
    next_cursor: int
    """Pass as ``after`` to read on; equal to the cursor sent when no event came."""


class UserMatch(BaseModel):
    """The directory user behind a login, and which key found them."""

    directory_id: str
    matched: Literal["external_id", "subject", "email"]
    user: DirectoryUser
