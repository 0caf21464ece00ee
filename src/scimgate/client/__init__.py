"""For applications that consume scimgate: events, webhooks, revocation proof, login lookup.

It depends on scimgate's event models, httpx and standardwebhooks only, never on
the server's storage or services::

    from scimgate.client import EventStream, FileCursorStore, ScimgateClient

    client = ScimgateClient("https://scimgate.example.com", admin_token)
    stream = EventStream(client, FileCursorStore("scimgate.cursor"), directory_id=directory)
    for event in stream:
        handle(event)  # the cursor is saved when the loop asks for the next event
"""

from scimgate.client.api import ScimgateClient
from scimgate.client.errors import (
    AmbiguousUserError,
    ApiError,
    CursorExpiredError,
    ScimgateError,
    WebhookVerificationError,
)
from scimgate.client.models import (
    DEPROVISIONING_TYPES,
    Deprovisioning,
    DeprovisionReason,
    DirectoryData,
    DirectoryGroup,
    DirectoryInfo,
    DirectoryUser,
    Event,
    EventData,
    EventPage,
    EventType,
    GroupData,
    GroupRef,
    MembershipData,
    OffboardingData,
    UserData,
    UserMatch,
    UserState,
)
from scimgate.client.stream import CursorStore, EventStream, FileCursorStore
from scimgate.client.webhooks import verify_webhook

__all__ = [
    "DEPROVISIONING_TYPES",
    "AmbiguousUserError",
    "ApiError",
    "CursorExpiredError",
    "CursorStore",
    "DeprovisionReason",
    "Deprovisioning",
    "DirectoryData",
    "DirectoryGroup",
    "DirectoryInfo",
    "DirectoryUser",
    "Event",
    "EventData",
    "EventPage",
    "EventStream",
    "EventType",
    "FileCursorStore",
    "GroupData",
    "GroupRef",
    "MembershipData",
    "OffboardingData",
    "ScimgateClient",
    "ScimgateError",
    "UserData",
    "UserMatch",
    "UserState",
    "WebhookVerificationError",
    "verify_webhook",
]
