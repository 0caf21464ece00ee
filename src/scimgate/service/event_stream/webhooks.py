"""Use cases on webhook endpoints: registration, state, secret rotation, deliveries, replay.

A signing secret is shown once, when it is made (at registration and at each
rotation); listings show only when each secret was made and when it expires.
An endpoint's URL is shown without the credentials it may carry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine

from scimgate.config import AllowedHosts
from scimgate.events.models import EventType
from scimgate.records import frozen
from scimgate.service.errors import Conflict, Invalid, NotFound
from scimgate.service.event_stream import destinations
from scimgate.service.event_stream.delivery import new_delivery, new_secret
from scimgate.store import events, tenants, webhook_deliveries, webhook_endpoints
from scimgate.store.ids import new_id, utcnow
from scimgate.store.transactions import reading, writing
from scimgate.store.webhook_deliveries import DELIVERED, EXPIRED, PENDING, Attempt, Delivery
from scimgate.store.webhook_endpoints import Endpoint

KNOWN_TYPES = [kind.value for kind in EventType]
STATUSES = (PENDING, DELIVERED, EXPIRED)
MAX_URL_LENGTH = 2048
MAX_DESCRIPTION_LENGTH = 200
MAX_REPLAY = 10_000
"""The most events one bulk replay queues; a longer range is replayed in parts."""

PUBLIC_ONLY = AllowedHosts()
"""No exception: endpoints must lead to public addresses."""

DEFAULT_OVERLAP = timedelta(hours=24)
MAX_OVERLAP = timedelta(days=30)


@frozen
class SigningKey:
    """A secret as listings show it: when it was made and when it stops signing, never its value."""

    id: str
    created_at: datetime
    expires_at: datetime | None


@frozen
class EndpointInfo(Endpoint):
    """An endpoint as listings show it: its URL masked, with its signing keys."""

    secrets: list[SigningKey]
    """Valid secrets, newest first; two during a rotation's overlap."""


@frozen
class WithSecret:
    """An endpoint with a secret just made: the only time the secret is shown."""

    endpoint: EndpointInfo
    secret: str


@frozen
class Replayed:
    replayed: int
    already_pending: int
    """Events in the range that were still waiting for delivery, so were not queued again."""


def register(
    engine: Engine,
    url: str,
    *,
    organization_id: str | None = None,
    event_types: list[str] | None = None,
    description: str = "",
    revocation_hook: bool = False,
    allowed: AllowedHosts = PUBLIC_ONLY,
) -> WithSecret:
    """Register an endpoint (for one organization, or all when none is named) with a secret.

    Its URL must be http or https, without credentials, and lead to a public
    address unless ``allowed`` (``SCIMGATE_WEBHOOK_ALLOWED_HOSTS``) allows its host.
    """
    _check_url(url, allowed)
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise Invalid(f"description: at most {MAX_DESCRIPTION_LENGTH} characters")
    endpoint = Endpoint(
        id=new_id(),
        organization_id=organization_id,
        url=url,
        description=description,
        event_types=_checked_types(event_types or []),
        revocation_hook=revocation_hook,
        enabled=True,
        disabled_reason=None,
        created_at=utcnow(),
    )
    secret = new_secret()
    with writing(engine) as conn:
        if organization_id is not None and tenants.get_organization(conn, organization_id) is None:
            raise NotFound(f"no organization {organization_id}")
        webhook_endpoints.insert_endpoint(conn, endpoint)
        webhook_endpoints.insert_secret(
            conn, webhook_endpoints.Secret(new_id(), endpoint.id, secret, endpoint.created_at, None)
        )
        return WithSecret(_info(conn, endpoint), secret)


def list_endpoints(engine: Engine, organization_id: str | None = None) -> list[EndpointInfo]:
    """Every endpoint, or those receiving an organization's events (its own and all-org ones)."""
    with reading(engine) as conn:
        return [
            _info(conn, each) for each in webhook_endpoints.list_endpoints(conn, organization_id)
        ]


def get_endpoint(engine: Engine, endpoint_id: str) -> EndpointInfo:
    with reading(engine) as conn:
        return _info(conn, _existing(conn, endpoint_id))


def remove(engine: Engine, endpoint_id: str) -> None:
    """Remove an endpoint with its secrets, deliveries and their attempts."""
    with writing(engine) as conn:
        if not webhook_endpoints.delete_endpoint(conn, endpoint_id):
            raise NotFound(f"no webhook endpoint {endpoint_id}")


def enable(engine: Engine, endpoint_id: str) -> EndpointInfo:
    """Turn a disabled endpoint back on; its pending deliveries are due at once, in order.

    Their failed attempts start counting from zero again, so a full retry
    schedule passes before the endpoint could be disabled again.
    """
    with writing(engine) as conn:
        _existing(conn, endpoint_id, for_update=True)
        if webhook_endpoints.set_enabled(conn, endpoint_id, True, None):
            webhook_deliveries.make_due(conn, endpoint_id, utcnow())
        return _info(conn, _existing(conn, endpoint_id))


def disable(engine: Engine, endpoint_id: str, reason: str | None = None) -> EndpointInfo:
    """Stop attempting deliveries to an endpoint; events are still queued for it meanwhile."""
    with writing(engine) as conn:
        _existing(conn, endpoint_id, for_update=True)
        webhook_endpoints.set_enabled(
            conn, endpoint_id, False, reason or "disabled by an administrator"
        )
        return _info(conn, _existing(conn, endpoint_id))


def rotate_secret(
    engine: Engine, endpoint_id: str, overlap: timedelta = DEFAULT_OVERLAP
) -> WithSecret:
    """Make a new secret; the current ones keep signing for ``overlap``, then expire.

    During the overlap every delivery carries a signature for each, so the app
    can switch to the new secret at any moment within it.
    """
    if not timedelta(0) <= overlap <= MAX_OVERLAP:
        raise Invalid(f"overlap_hours: between 0 and {MAX_OVERLAP.days * 24} hours")
    now = utcnow()
    secret = new_secret()
    with writing(engine) as conn:
        endpoint = _existing(conn, endpoint_id, for_update=True)
        webhook_endpoints.expire_secrets(conn, endpoint_id, now, now + overlap)
        webhook_endpoints.insert_secret(
            conn, webhook_endpoints.Secret(new_id(), endpoint_id, secret, now, None)
        )
        return WithSecret(_info(conn, endpoint), secret)


def deliveries(
    engine: Engine, endpoint_id: str, status: str | None = None, limit: int = 100
) -> list[Delivery]:
    """An endpoint's deliveries, newest event first."""
    if status is not None and status not in STATUSES:
        raise Invalid(f"status: {status!r} is not one of {', '.join(STATUSES)}")
    with reading(engine) as conn:
        _existing(conn, endpoint_id)
        return webhook_deliveries.list_deliveries(conn, endpoint_id, status, limit)


def event_types(engine: Engine, seqs: Sequence[int]) -> dict[int, str]:
    """The type of each of these events that retention still keeps."""
    with reading(engine) as conn:
        return {seq: event.type for seq, event in events.by_seqs(conn, seqs).items()}


def attempts(engine: Engine, delivery_id: str, *, with_excerpts: bool = True) -> list[Attempt]:
    """A delivery's attempts, oldest first.

    The start of each answer is what the endpoint chose to send back: shown
    only to those who may change endpoints (``with_excerpts``), never to a
    read-only key, since a URL may lead wherever its registrant pointed it.
    """
    with reading(engine) as conn:
        _existing_delivery(conn, delivery_id)
        found = webhook_deliveries.attempts_of(conn, delivery_id)
    return found if with_excerpts else [replace(each, response_excerpt=None) for each in found]


def replay(engine: Engine, delivery_id: str) -> Delivery:
    """Send a delivery's event to its endpoint again, as a new delivery with the same event id.

    It takes its place in the line by sequence, so it goes before any later
    event of the directory that is still waiting.
    """
    with writing(engine) as conn:
        original = _existing_delivery(conn, delivery_id)
        if webhook_deliveries.pending_event_seqs(conn, original.endpoint_id, [original.event_seq]):
            raise Conflict(
                f"Event {original.event_id} is already waiting for delivery to this endpoint"
            )
        if events.get(conn, original.event_id) is None:
            raise Invalid(f"Event {original.event_id} is older than the retention window")
        event = webhook_deliveries.EventRef(
            original.event_seq, original.event_id, original.directory_id
        )
        again = new_delivery(original.endpoint_id, event, utcnow())
        webhook_deliveries.insert_deliveries(conn, [again])
    return again


def retry_now(engine: Engine, delivery_id: str) -> Delivery:
    """Attempt a waiting delivery at once instead of at its next scheduled retry.

    For the moment its endpoint is fixed. The delivery keeps its place in
    line and its count of failed attempts; a disabled endpoint still waits to be
    enabled. Refused for a delivery that is not waiting (replay it instead) or
    that a worker is attempting right now.
    """
    with writing(engine) as conn:
        found = _existing_delivery(conn, delivery_id)
        if found.status != PENDING:
            raise Conflict(
                f"Delivery {delivery_id} is {found.status}: replay it to send its event anew"
            )
        if not webhook_deliveries.make_delivery_due(conn, delivery_id, utcnow()):
            raise Conflict(f"Delivery {delivery_id} is being attempted right now")
        return _existing_delivery(conn, delivery_id)


def replay_range(
    engine: Engine,
    endpoint_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    from_sequence: int | None = None,
    to_sequence: int | None = None,
) -> Replayed:
    """Send again the endpoint's events in a time range (by ``occurred_at``) or sequence range.

    Time bounds include ``since`` and exclude ``until``; sequence bounds are
    inclusive. Events still waiting for delivery to the endpoint are skipped.
    """
    _check_range(since, until, from_sequence, to_sequence)
    with writing(engine) as conn:
        endpoint = _existing(conn, endpoint_id)
        found = webhook_endpoints.events_in_range(
            conn,
            endpoint,
            since=since,
            until=until,
            from_seq=from_sequence,
            to_seq=to_sequence,
            limit=MAX_REPLAY + 1,
        )
        if len(found) > MAX_REPLAY:
            raise Invalid(f"The range holds more than {MAX_REPLAY} events; replay it in parts")
        waiting = webhook_deliveries.pending_event_seqs(
            conn, endpoint_id, [event.seq for event in found]
        )
        now = utcnow()
        webhook_deliveries.insert_deliveries(
            conn,
            [new_delivery(endpoint_id, event, now) for event in found if event.seq not in waiting],
        )
    return Replayed(replayed=len(found) - len(waiting), already_pending=len(waiting))


def _check_url(url: str, allowed: AllowedHosts) -> None:
    if len(url) > MAX_URL_LENGTH:
        raise Invalid(f"url: at most {MAX_URL_LENGTH} characters")
    try:
        destinations.check_url(url, allowed)
    except destinations.RefusedDestination as exc:
        raise Invalid(exc.detail) from None


def _checked_types(types: list[str]) -> list[str]:
    for kind in types:
        if kind not in KNOWN_TYPES:
            raise Invalid(
                f"event_types: unknown event type {kind!r}; the types are " + ", ".join(KNOWN_TYPES)
            )
    return list(dict.fromkeys(types))


def _check_range(
    since: datetime | None,
    until: datetime | None,
    from_sequence: int | None,
    to_sequence: int | None,
) -> None:
    by_time = since is not None or until is not None
    by_sequence = from_sequence is not None or to_sequence is not None
    if by_time and by_sequence:
        raise Invalid(
            "Replay a time range (since, until) or a sequence range "
            "(from_sequence, to_sequence), not both"
        )
    if not by_time and not by_sequence:
        raise Invalid(
            "Name the range to replay: since (and until), or from_sequence (and to_sequence)"
        )
    if by_time and since is None:
        raise Invalid("since: a time range needs its start")
    if since is not None and until is not None and until <= since:
        raise Invalid("until: the end of the range must come after since")
    if by_sequence and from_sequence is None:
        raise Invalid("from_sequence: a sequence range needs its start")
    if from_sequence is not None and to_sequence is not None and to_sequence < from_sequence:
        raise Invalid("to_sequence: must not be below from_sequence")


def _existing(conn: Connection, endpoint_id: str, *, for_update: bool = False) -> Endpoint:
    found = webhook_endpoints.get_endpoint(conn, endpoint_id, for_update=for_update)
    if found is None:
        raise NotFound(f"no webhook endpoint {endpoint_id}")
    return found


def _existing_delivery(conn: Connection, delivery_id: str) -> Delivery:
    found = webhook_deliveries.get_delivery(conn, delivery_id)
    if found is None:
        raise NotFound(f"no webhook delivery {delivery_id}")
    return found


def _info(conn: Connection, endpoint: Endpoint) -> EndpointInfo:
    now = utcnow()
    keys = [
        SigningKey(each.id, each.created_at, each.expires_at)
        for each in webhook_endpoints.secrets_of(conn, endpoint.id)
        if each.expires_at is None or each.expires_at > now
    ]
    return EndpointInfo(
        **{**vars(endpoint), "url": destinations.masked(endpoint.url)}, secrets=keys
    )
