"""The client applications use: webhook verification, the event stream, revocation and lookup."""

import base64
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path

import httpx
import pytest
import standardwebhooks
import svix.webhooks

from conftest import ADMIN_TOKEN, DirectoryClient, LiveServer, new_directory
from event_support import private_server
from scim_payloads import patch, user
from scimgate.client import (
    AmbiguousUserError,
    ApiError,
    CursorExpiredError,
    DirectoryData,
    DirectoryInfo,
    DirectoryUser,
    Event,
    EventStream,
    EventType,
    FileCursorStore,
    ScimgateClient,
    UserData,
    WebhookVerificationError,
    verify_webhook,
)
from scimgate.config import EventSettings, LogPolicy
from scimgate.service.operations.maintenance import run_upkeep

# --- Webhook verification -------------------------------------------------------------


def _secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _event() -> Event:
    return Event(
        id="01900000-0000-7000-8000-000000000001",
        type=EventType.directory_activated,
        sequence=7,
        organization_id="org-1",
        directory_id="dir-1",
        occurred_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        data=DirectoryData(
            directory=DirectoryInfo(id="dir-1", name="Acme", organization_id="org-1", idp="entra")
        ),
    )


def _headers(signature: str, at: datetime, message_id: str = "msg-1") -> dict[str, str]:
    return {
        "Webhook-Id": message_id,
        "Webhook-Timestamp": str(int(at.timestamp())),
        "Webhook-Signature": signature,
    }


def _signed(secret: str, body: str, at: datetime | None = None) -> dict[str, str]:
    at = at or datetime.now(UTC)
    return _headers(standardwebhooks.Webhook(secret).sign("msg-1", at, body), at)


def test_verify_accepts_standard_webhooks_and_svix_signatures() -> None:
    secret, body = _secret(), _event().model_dump_json()
    now = datetime.now(UTC)

    assert verify_webhook(body.encode(), _signed(secret, body), secret) == _event()
    by_svix = _headers(svix.webhooks.Webhook(secret).sign("msg-1", now, body), now)
    assert verify_webhook(body, by_svix, secret) == _event()


def test_verify_rejects_tampered_stale_and_foreign_deliveries() -> None:
    secret, body = _secret(), _event().model_dump_json()
    headers = _signed(secret, body)

    tampered = body.replace('"Acme"', '"Evil"')
    stale = _signed(secret, body, datetime.now(UTC) - timedelta(minutes=6))
    unsigned = {name: value for name, value in headers.items() if name != "Webhook-Signature"}
    malformed = {**headers, "Webhook-Signature": "v1"}
    for given_body, given_headers, given_secret in [
        (tampered, headers, secret),
        (body, stale, secret),
        (body, headers, _secret()),
        (body, unsigned, secret),
        (body, malformed, secret),
    ]:
        with pytest.raises(WebhookVerificationError):
            verify_webhook(given_body, given_headers, given_secret)
    with pytest.raises(ValueError, match="whsec_"):
        verify_webhook(body, headers, "whsec_not base64!")


def test_verify_accepts_either_secret_while_rotating() -> None:
    old, new, body = _secret(), _secret(), _event().model_dump_json()

    assert verify_webhook(body, _signed(old, body), [new, old]) == _event()
    # During a rotation the sender signs with both secrets; the receiver may know only one.
    at = datetime.now(UTC)
    both = " ".join(standardwebhooks.Webhook(s).sign("msg-1", at, body) for s in (old, new))
    assert verify_webhook(body, _headers(both, at), new) == _event()
    with pytest.raises(WebhookVerificationError):
        verify_webhook(body, _signed(old, body), [new, _secret()])


def test_the_client_needs_nothing_of_the_server() -> None:
    program = "import sys, scimgate.client; print(*(m for m in sys.modules if 'scimgate.' in m))"
    run = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    layers = {name.split(".")[1] for name in run.stdout.split()}
    assert "client" in layers
    assert layers.isdisjoint({"api", "service", "store", "cli", "simulator"}), layers


# --- The event stream -------------------------------------------------------------------


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[ScimgateClient]:
    with ScimgateClient(live_server.url, ADMIN_TOKEN) as made:
        yield made


def _stream(server: LiveServer, cursor_file: Path, directory_id: str) -> EventStream:
    """A stream as an app makes it at start-up: a new client, the cursor from its file."""
    return EventStream(
        ScimgateClient(server.url, ADMIN_TOKEN),
        FileCursorStore(cursor_file),
        directory_id=directory_id,
        wait=1,
    )


def test_stream_reads_in_order_and_resumes_after_a_crash_without_skipping(
    scim: DirectoryClient, live_server: LiveServer, client: ScimgateClient, tmp_path: Path
) -> None:
    for n in range(5):
        assert scim.http.post("/Users", json=user(f"user{n}@corp.example")).status_code == 201
    published = client.events(0, directory_id=scim.directory_id, limit=1000).data
    assert [event.type for event in published] == [
        EventType.directory_activated,
        *[EventType.user_created] * 5,
    ]
    assert [event.sequence for event in published] == sorted(e.sequence for e in published)
    cursor_file = tmp_path / "cursor"

    # First run: events 1 and 2 are processed; the process dies while handling event 3.
    first = list(islice(_stream(live_server, cursor_file, scim.directory_id), 3))
    assert FileCursorStore(cursor_file).load() == published[1].sequence
    # Second run: event 3 comes again; after event 4 the app commits and stops.
    stream = _stream(live_server, cursor_file, scim.directory_id)
    second = list(islice(stream, 2))
    stream.commit()
    # Third run: the rest, and nothing after it.
    third = list(islice(_stream(live_server, cursor_file, scim.directory_id), 2))

    ids = [event.id for event in published]
    assert [event.id for event in first] == ids[:3]
    assert [event.id for event in second] == ids[2:4]
    assert [event.id for event in third] == ids[4:]
    assert FileCursorStore(cursor_file).load() == published[4].sequence
    assert isinstance(third[-1].data, UserData)
    assert third[-1].data.user.username == "user4@corp.example"


class CountingTransport(httpx.HTTPTransport):
    """Counts the requests a client sends, and tells when the first one has gone out."""

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0
        self.first_sent = threading.Event()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        self.first_sent.set()
        return super().handle_request(request)


def test_a_long_poll_returns_an_event_made_while_it_waits(
    scim: DirectoryClient, live_server: LiveServer, client: ScimgateClient, tmp_path: Path
) -> None:
    scim.http.get("/Users")  # the directory.activated event comes before the wait
    transport = CountingTransport()
    stream = EventStream(
        ScimgateClient(live_server.url, ADMIN_TOKEN, transport=transport),
        FileCursorStore(tmp_path / "cursor"),
        directory_id=scim.directory_id,
        wait=20,
        start_after=client.latest_cursor(),
    )
    created: list[str] = []

    def create_while_waiting() -> None:
        transport.first_sent.wait(10)
        time.sleep(0.5)
        created.append(scim.http.post("/Users", json=user("late@corp.example")).json()["id"])

    worker = threading.Thread(target=create_while_waiting)
    worker.start()
    event = next(iter(stream))
    worker.join()

    assert event.type == EventType.user_created
    assert isinstance(event.data, UserData)
    assert event.data.user.id == created[0]
    assert transport.sent == 1, "the event should arrive in the answer to the waiting request"


def test_an_expired_cursor_is_a_clear_error(database_url: str, tmp_path: Path) -> None:
    with private_server(database_url, tmp_path) as server:
        directory = new_directory(server)
        directory.http.post("/Users", json=user("ann@corp.example"))
        stream = _stream(server, tmp_path / "cursor", directory.directory_id)
        stream.cursors.save(1)  # the app read the first event, then was away too long
        run_upkeep(server.engine, EventSettings(retention_days=0), LogPolicy())
        with pytest.raises(CursorExpiredError, match="retention"):
            next(iter(stream))
        directory.http.close()


# --- Revocation proof and lookup -----------------------------------------------------


def test_confirm_revocation_and_look_up_users(
    scim: DirectoryClient, live_server: LiveServer, client: ScimgateClient
) -> None:
    ann = scim.http.post(
        "/Users", json=user("ann@corp.example", emails=[{"value": "team@corp.example"}])
    ).json()["id"]
    scim.http.post("/Users", json=user("bob@corp.example", emails=[{"value": "team@corp.example"}]))

    match = client.lookup_user(directory_id=scim.directory_id, subject="ANN@corp.example")
    assert match is not None
    assert (match.directory_id, match.matched) == (scim.directory_id, "subject")
    assert isinstance(match.user, DirectoryUser)
    assert (match.user.id, match.user.state) == (ann, "active")
    assert client.lookup_user(directory_id=scim.directory_id, subject="carol@x.example") is None
    with pytest.raises(AmbiguousUserError, match=ann):
        client.lookup_user(directory_id=scim.directory_id, email="team@corp.example")
    with pytest.raises(ApiError) as unknown:
        client.lookup_user(directory_id="no-such-directory", subject="ann@corp.example")
    assert unknown.value.status == 404

    assert client.confirm_access_revoked(scim.directory_id, ann) == []
    deactivate = patch({"op": "replace", "path": "active", "value": False})
    assert scim.http.patch(f"/Users/{ann}", json=deactivate).status_code == 200
    assert len(client.confirm_access_revoked(scim.directory_id, ann)) == 1
    with pytest.raises(ApiError) as refused, ScimgateClient(live_server.url, "wrong") as stranger:
        stranger.latest_cursor()
    assert refused.value.status == 401
