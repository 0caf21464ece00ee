"""The events the app receives, as typed models (schema version 1).

Every event has the same envelope; ``data`` holds the resource as it stands
after the change, in the normalized shape of :mod:`scimgate.scim.normalized`.
The JSON Schema published in ``docs/events/`` is generated from these models.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from scimgate.scim.normalized import DirectoryGroup, DirectoryUser, GroupRef, UserState

__all__ = [
    "DEPROVISIONING_TYPES",
    "SCHEMA_VERSION",
    "DeprovisionReason",
    "Deprovisioning",
    "DirectoryData",
    "DirectoryGroup",
    "DirectoryInfo",
    "DirectoryUser",
    "Event",
    "EventData",
    "EventType",
    "GroupData",
    "GroupRef",
    "MembershipData",
    "OffboardingData",
    "UserData",
    "UserState",
]

SCHEMA_VERSION = 1


class EventType(StrEnum):
    user_created = "user.created"
    user_updated = "user.updated"
    user_deactivated = "user.deactivated"
    user_reactivated = "user.reactivated"
    user_deleted = "user.deleted"
    user_roles_changed = "user.roles_changed"
    group_created = "group.created"
    group_updated = "group.updated"
    group_deleted = "group.deleted"
    group_user_added = "group.user_added"
    group_user_removed = "group.user_removed"
    group_group_added = "group.group_added"
    group_group_removed = "group.group_removed"
    directory_activated = "directory.activated"
    directory_deprovisioning_held = "directory.deprovisioning_held"
    directory_held_events_released = "directory.held_events_released"
    directory_held_events_discarded = "directory.held_events_discarded"
    offboarding_overdue = "offboarding.overdue"


DEPROVISIONING_TYPES = frozenset({EventType.user_deactivated, EventType.user_deleted})
"""Events that take a user's access away: the ones the offboarding report follows."""


class DeprovisionReason(StrEnum):
    deactivated = "deactivated"
    """The IdP set ``active`` to false (how Entra ID and Okta offboard)."""

    deleted = "deleted"
    """The IdP deleted the user."""

    unassigned = "unassigned"
    """The user left the directory's assignment group."""


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserData(_Data):
    """``user.*`` events."""

    user: DirectoryUser
    previous_attributes: dict[str, Any] = Field(
        default_factory=dict,
        description="For updates: each changed SCIM attribute with its value before the change "
        "(null when it was absent); extension attributes are nested under their schema URN.",
    )
    reason: DeprovisionReason | None = Field(
        default=None, description="For user.deactivated and user.deleted: why access ends."
    )
    previous_roles: list[str] | None = Field(
        default=None, description="For user.roles_changed: the roles before the change."
    )


class GroupData(_Data):
    """``group.created``, ``group.updated``, ``group.deleted``."""

    group: DirectoryGroup
    previous_attributes: dict[str, Any] = Field(default_factory=dict)


class MembershipData(_Data):
    """``group.user_added``/``_removed`` (``user``), ``group.group_added``/``_removed`` (member)."""

    group: DirectoryGroup
    user: DirectoryUser | None = None
    member_group: DirectoryGroup | None = None


class DirectoryInfo(BaseModel):
    id: str
    name: str
    organization_id: str
    idp: str


class DirectoryData(_Data):
    """``directory.*`` events."""

    directory: DirectoryInfo
    held_events: int | None = Field(
        default=None, description="How many events were held, released or discarded."
    )
    deprovisionings_in_window: int | None = Field(
        default=None, description="For deprovisioning_held: what tripped the safety valve."
    )


class Deprovisioning(BaseModel):
    """One user's offboarding, from the IdP's request to the app's confirmation."""

    id: str
    organization_id: str
    directory_id: str
    user_id: str
    user_name: str | None
    reason: DeprovisionReason
    event_id: str
    requested_at: datetime
    notified_at: datetime | None
    notified_via: str | None
    confirmed_at: datetime | None
    confirmed_via: str | None


class OffboardingData(_Data):
    """``offboarding.overdue``: the app has not confirmed a deprovisioning in time."""

    deprovisioning: Deprovisioning


EventData = UserData | MembershipData | GroupData | DirectoryData | OffboardingData


class Event(BaseModel):
    """One change to a directory, as the events API and webhooks deliver it."""

    id: str = Field(description="Unique; the webhook-id of every delivery of this event.")
    type: EventType
    sequence: int = Field(
        description="Position in the stream: strictly increasing in publication order, "
        "so strictly ordered within each directory. The events API's cursor."
    )
    schema_version: Literal[1] = 1
    organization_id: str
    directory_id: str
    occurred_at: datetime = Field(description="When the change was made (UTC).")
    data: EventData
