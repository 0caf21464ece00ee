"""Push notifications: Google tells scimgate at once when a pulled directory's user changes.

Where the service has a public address (``SCIMGATE_PUBLIC_URL``), each sync
keeps a channel open per kind of user change (``users.watch``): Google posts to
``/google/notifications`` when someone is added, changed (suspended, moved,
renamed...), deleted or restored, and the directory's sync falls due at once, so
a deprovisioning reaches the app within seconds rather than one interval. A
notification only says *that* something changed: the sync that follows reads
Google, so a forged or replayed notification can cause a sync, never a change.
Group changes are not notified by Google: they wait for the interval.

Channels expire (Google closes them after hours); a sync renews a channel that
ends within ``RENEW_BEFORE``, and closes the channels it replaced.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from contextlib import suppress
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import Engine

from scimgate.logging import failure
from scimgate.service.directory_sync.google_api import DirectoryApi, GoogleApiError
from scimgate.store import google_connections
from scimgate.store.google_connections import Channel
from scimgate.store.ids import new_id, utcnow
from scimgate.store.transactions import reading, writing

log = structlog.get_logger("scimgate.directory_sync")

NOTIFICATIONS_PATH = "/google/notifications"
WATCHED = ("add", "update", "delete", "undelete")
"""The user changes a channel is opened for (``makeAdmin`` changes nothing the app sees)."""

RENEW_BEFORE = timedelta(hours=1)
SYNC_STATE = "sync"
"""The state of the first message on a new channel: it announces no change."""


def notification_address(public_url: str | None) -> str | None:
    """Where Google is to post, when the service has a public address."""
    return None if public_url is None else public_url.rstrip("/") + NOTIFICATIONS_PATH


def keep_watching(engine: Engine, api: DirectoryApi, directory_id: str, address: str) -> None:
    """Open the channels the directory lacks or that end soon; close those they replace.

    Google refusing (a key without the scope, an address it will not post to) is
    logged, not raised: the directory is still synced every interval.
    """
    with reading(engine) as conn:
        current = google_connections.channels(conn, directory_id)
    now = utcnow()
    lasting = {c.event: c for c in current if c.expires_at > now + RENEW_BEFORE}
    try:
        for event in WATCHED:
            if event not in lasting:
                lasting[event] = _open(engine, api, directory_id, address, event)
    except GoogleApiError as exc:
        log.warning("google channel not opened", directory=directory_id, **failure(exc))
    replaced = [c for c in current if lasting.get(c.event) is not c]
    for channel in replaced:
        # One closed or expired already is no loss: Google posts nothing more on it.
        with suppress(GoogleApiError):
            api.stop(channel.id, channel.resource_id)
    if replaced:
        with writing(engine) as conn:
            google_connections.remove_channels(conn, directory_id, [c.id for c in replaced])


def _open(
    engine: Engine, api: DirectoryApi, directory_id: str, address: str, event: str
) -> Channel:
    token = secrets.token_urlsafe(32)
    channel_id = new_id()
    opened = api.watch(event, channel_id, token, address)
    expires = datetime.fromtimestamp(int(opened["expiration"]) / 1000, UTC)
    channel = Channel(
        id=channel_id,
        directory_id=directory_id,
        event=event,
        resource_id=str(opened["resourceId"]),
        expires_at=expires,
        created_at=utcnow(),
    )
    with writing(engine) as conn:
        google_connections.add_channel(conn, channel, _hash(token))
    return channel


def notified(engine: Engine, channel_id: str, token: str, state: str) -> bool:
    """A notification Google posted: the directory's sync falls due now. False when no
    channel of scimgate's has this id and token."""
    with reading(engine) as conn:
        found = google_connections.find_channel(conn, channel_id)
    if found is None or not hmac.compare_digest(found.token_hash, _hash(token)):
        return False
    if state != SYNC_STATE:
        with writing(engine) as conn:
            google_connections.request_sync(conn, found.channel.directory_id, utcnow())
    return True


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
