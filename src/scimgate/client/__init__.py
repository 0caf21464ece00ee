"""For applications that consume scimgate: events, webhooks, revocation proof, login lookup.

It depends on scimgate's event models, httpx and standardwebhooks only, never on
the server's storage or services::

    from scimgate.client import EventStream, FileCursorStore, ScimgateClient

    client = ScimgateClient("https://scimgate.example.com", admin_token)
    stream = EventStream(client, FileCursorStore("scimgate.cursor"), directory_id=directory)
    for event in stream:
        handle(event)  # the cursor is saved when the loop asks for the next event
"""

from scimgate.client import models
from scimgate.client.api import ScimgateClient
from scimgate.client.errors import (
    AmbiguousUserError,
    ApiError,
    CursorExpiredError,
    ScimgateError,
    WebhookVerificationError,
)
from scimgate.client.models import *  # noqa: F403  (its __all__ is the package's too)
from scimgate.client.stream import CursorStore, EventStream, FileCursorStore
from scimgate.client.webhooks import verify_webhook

__all__ = [
    "AmbiguousUserError",
    "ApiError",
    "CursorExpiredError",
    "CursorStore",
    "EventStream",
    "FileCursorStore",
    "ScimgateClient",
    "ScimgateError",
    "WebhookVerificationError",
    "verify_webhook",
]
__all__ += models.__all__
