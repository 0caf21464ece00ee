"""Webhook endpoints: signed deliveries any Standard Webhooks verifier accepts, secret
rotation, the management API's answers to bad input, and secrets that are shown only once."""

import json
from datetime import UTC, datetime, timedelta

import httpx
from standardwebhooks.webhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError
from svix.webhooks import Webhook as SvixWebhook
from svix.webhooks import WebhookVerificationError as SvixVerificationError
from typer.testing import CliRunner

from conftest import LOOPBACK_RECEIVERS, LiveServer
from scim_payloads import ERROR_SCHEMA, user
from scimgate import __version__
from scimgate.cli.main import app as cli
from scimgate.config import EventSettings, Settings
from scimgate.service.event_stream.worker import start_in_background
from webhook_support import (
    LOOPBACK,
    Endpoints,
    Receiver,
    organization_with,
    wait_until,
    worker_thread,
)

runner = CliRunner()


def _verifies(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    """Both verifiers agree, or the test fails: svix's, and the reference implementation's."""
    try:
        SvixWebhook(secret).verify(body, headers)
        svix_ok = True
    except SvixVerificationError:
        svix_ok = False
    try:
        StandardWebhook(secret).verify(body, headers)
        standard_ok = True
    except WebhookVerificationError:
        standard_ok = False
    assert svix_ok == standard_ok
    return svix_ok


def test_a_delivery_verifies_with_independent_verifiers(
    live_server: LiveServer,
    database_url: str,
    admin: httpx.Client,
    endpoints: Endpoints,
    receiver: Receiver,
) -> None:
    org = organization_with(live_server, 1)
    directory = org.directories[0]
    endpoint = endpoints.register(
        receiver.url(), organization_id=org.id, event_types=["user.created"]
    )
    with worker_thread(database_url):
        directory.http.post("/Users", json=user("ann", displayName="Ann Émile"))
        wait_until(lambda: len(receiver.received()) == 1, "the user.created delivery")
    [got] = receiver.received()

    assert _verifies(endpoint["secret"], got.body, got.headers)
    assert StandardWebhook(endpoint["secret"]).verify(got.body, got.headers) == got.event
    tampered = got.body.replace(b'"ann"', b'"eve"')
    assert tampered != got.body
    assert not _verifies(endpoint["secret"], tampered, got.headers)
    assert not _verifies(endpoint["secret"], got.body, {**got.headers, "webhook-id": "other"})
    other = endpoints.register(receiver.url("/other"), organization_id=org.id)
    assert not _verifies(other["secret"], got.body, got.headers)

    assert len(got.headers["webhook-signature"].split(" ")) == 1
    assert got.headers["content-type"] == "application/json"
    assert got.headers["user-agent"] == f"scimgate/{__version__}"
    # The body is the event exactly as the events API shows it, as compact JSON.
    listed = admin.get(
        "/events", params={"directory_id": directory.directory_id, "types": "user.created"}
    ).json()["data"]
    assert [got.event] == listed
    assert got.headers["webhook-id"] == listed[0]["id"]
    compact = json.dumps(got.event, separators=(",", ":"), ensure_ascii=False).encode()
    assert got.body == compact


def test_during_a_rotation_old_and_new_secrets_both_verify(
    live_server: LiveServer,
    database_url: str,
    admin: httpx.Client,
    endpoints: Endpoints,
    receiver: Receiver,
) -> None:
    org = organization_with(live_server, 1)
    directory = org.directories[0]
    endpoint = endpoints.register(
        receiver.url(), organization_id=org.id, event_types=["user.created"]
    )
    old = endpoint["secret"]
    rotated = admin.post(f"/webhooks/{endpoint['id']}/rotate-secret", json={"overlap_hours": 24})
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new.startswith("whsec_") and new != old
    keys = admin.get(f"/webhooks/{endpoint['id']}").json()["secrets"]
    assert len(keys) == 2
    assert keys[0]["expires_at"] is None and keys[1]["expires_at"] is not None

    with worker_thread(database_url):
        directory.http.post("/Users", json=user("ann"))
        wait_until(lambda: len(receiver.received()) == 1, "a delivery during the overlap")
        [during] = receiver.received()
        assert len(during.headers["webhook-signature"].split(" ")) == 2
        assert _verifies(old, during.body, during.headers)
        assert _verifies(new, during.body, during.headers)

        # Ending the overlap at once: only the newest secret signs from now on.
        newest = admin.post(
            f"/webhooks/{endpoint['id']}/rotate-secret", json={"overlap_hours": 0}
        ).json()["secret"]
        directory.http.post("/Users", json=user("bob"))
        wait_until(lambda: len(receiver.received()) == 2, "a delivery after the overlap")
    after = receiver.received()[1]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    assert _verifies(newest, after.body, after.headers)
    assert not _verifies(new, after.body, after.headers)
    assert not _verifies(old, after.body, after.headers)


def _refused(answer: httpx.Response, status: int, *words: str) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["schemas"] == [ERROR_SCHEMA]
    for word in words:
        assert word in body["detail"], body["detail"]


def test_bad_requests_are_refused_precisely(
    live_server: LiveServer, admin: httpx.Client, endpoints: Endpoints
) -> None:
    org = organization_with(live_server, 1)
    _refused(admin.post("/webhooks", json={"url": "ftp://example.com/x"}), 400, "url", "ftp")
    _refused(admin.post("/webhooks", json={"url": "https://"}), 400, "url")
    _refused(admin.post("/webhooks", json={}), 400, "url", "required")
    _refused(
        admin.post("/webhooks", json={"url": "https://example.com", "event_types": ["user.made"]}),
        400,
        "user.made",
        "user.created",
    )
    _refused(
        admin.post("/webhooks", json={"url": "https://example.com", "colour": "red"}),
        400,
        "colour",
    )
    _refused(admin.post("/webhooks", content=b"{not json"), 400, "JSON")
    _refused(
        admin.post("/webhooks", json={"url": "https://example.com", "organization_id": "nope"}),
        404,
        "nope",
    )

    endpoint = endpoints.register("https://example.com/hook", organization_id=org.id)
    hook = f"/webhooks/{endpoint['id']}"
    _refused(admin.get(f"{hook}/deliveries", params={"status": "lost"}), 400, "lost", "pending")
    _refused(admin.post(f"{hook}/rotate-secret", json={"overlap_hours": -1}), 400, "overlap")
    _refused(admin.post(f"{hook}/replay", json={}), 400, "since")
    _refused(
        admin.post(f"{hook}/replay", json={"since": "2026-01-02T00:00:00Z", "from_sequence": 1}),
        400,
        "not both",
    )
    _refused(
        admin.post(
            f"{hook}/replay",
            json={"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        ),
        400,
        "until",
    )

    missing = "0190c0de-0000-7000-8000-000000000000"
    for answer in (
        admin.get(f"/webhooks/{missing}"),
        admin.delete(f"/webhooks/{missing}"),
        admin.post(f"/webhooks/{missing}/enable"),
        admin.post(f"/webhooks/{missing}/disable"),
        admin.post(f"/webhooks/{missing}/rotate-secret"),
        admin.get(f"/webhooks/{missing}/deliveries"),
        admin.post(f"/webhooks/{missing}/replay", json={"from_sequence": 1}),
        admin.get(f"/webhooks/deliveries/{missing}/attempts"),
        admin.post(f"/webhooks/deliveries/{missing}/replay"),
    ):
        _refused(answer, 404, missing)
    assert httpx.get(f"{live_server.url}/api/v1/webhooks").status_code == 401


def test_secrets_are_shown_once_and_never_listed(
    live_server: LiveServer, database_url: str, admin: httpx.Client, endpoints: Endpoints
) -> None:
    org = organization_with(live_server, 1)
    endpoint = endpoints.register(
        "https://example.com/hook",
        organization_id=org.id,
        event_types=["user.deactivated", "user.deleted"],
        description="offboarding",
        revocation_hook=True,
    )
    created = runner.invoke(
        cli,
        ["webhooks", "create", "https://example.com/cli", "--org", org.id, "--type",
         "user.created", "--json", "--database-url", database_url],
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    from_cli = json.loads(created.output)
    endpoints.created.append(from_cli["id"])
    rotated = admin.post(f"/webhooks/{endpoint['id']}/rotate-secret").json()["secret"]
    secrets = [endpoint["secret"], from_cli["secret"], rotated]
    assert all(secret.startswith("whsec_") for secret in secrets)
    assert len(set(secrets)) == 3

    shown = [
        admin.get("/webhooks").text,
        admin.get("/webhooks", params={"organization_id": org.id}).text,
        admin.get(f"/webhooks/{endpoint['id']}").text,
        admin.post(f"/webhooks/{endpoint['id']}/disable", json={"reason": "maintenance"}).text,
        admin.post(f"/webhooks/{endpoint['id']}/enable").text,
    ]
    for args in (["list"], ["list", "--json"], ["list", "--org", org.id, "--json"]):
        listed = runner.invoke(cli, ["webhooks", *args, "--database-url", database_url])
        assert listed.exit_code == 0, listed.output
        shown.append(listed.output)
    for text in shown:
        for secret in secrets:
            assert secret not in text
            assert secret.removeprefix("whsec_") not in text
        assert '"secret"' not in text

    mine = json.loads(shown[-1])
    by_id = {each["id"]: each for each in mine}
    assert set(by_id) >= {endpoint["id"], from_cli["id"]}
    assert by_id[endpoint["id"]]["event_types"] == ["user.deactivated", "user.deleted"]
    assert by_id[endpoint["id"]]["revocation_hook"] is True
    assert by_id[endpoint["id"]]["description"] == "offboarding"
    assert by_id[endpoint["id"]]["enabled"] is True
    assert len(by_id[endpoint["id"]]["secrets"]) == 2
    assert by_id[from_cli["id"]]["event_types"] == ["user.created"]
    assert "https://example.com/cli" in shown[-3]  # the table lists it too


def _cli(database_url: str, *args: str) -> str:
    result = runner.invoke(
        cli, ["webhooks", *args, "--database-url", database_url], env=LOOPBACK_RECEIVERS
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_the_command_line_manages_endpoints_and_deliveries(
    live_server: LiveServer, database_url: str, endpoints: Endpoints, receiver: Receiver
) -> None:
    org = organization_with(live_server, 1)
    created = json.loads(
        _cli(database_url, "create", receiver.url(), "--org", org.id, "--type", "user.created",
             "--description", "from the CLI", "--json")
    )  # fmt: skip
    endpoints.created.append(created["id"])
    # The worker logs to standard output, so commands run while no worker does.
    worker = start_in_background(
        Settings(database_url=database_url, events=EventSettings(webhook_allowed_hosts=LOOPBACK))
    )
    try:
        org.directories[0].http.post("/Users", json=user("ann"))
        wait_until(lambda: len(receiver.received()) == 1, "the background worker delivers")
    finally:
        worker.stop()
    assert not worker.thread.is_alive()

    [delivery] = json.loads(_cli(database_url, "deliveries", created["id"], "--json"))
    assert delivery["status"] == "delivered"
    [attempt] = json.loads(_cli(database_url, "attempts", delivery["id"], "--json"))
    assert attempt["status_code"] == 200 and attempt["response_excerpt"] == "ok"
    table = _cli(database_url, "deliveries", created["id"], "--status", "delivered")
    assert delivery["id"] in table and delivery["event_id"] in table

    disabled = _cli(database_url, "disable", created["id"], "--reason", "moving house")
    assert "disabled: moving house" in disabled
    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat(timespec="seconds")[:19]
    assert "Queued 1 event;" in _cli(database_url, "replay-range", created["id"], "--since", since)
    waiting = runner.invoke(
        cli, ["webhooks", "replay", delivery["id"], "--database-url", database_url]
    )
    assert waiting.exit_code != 0 and "already waiting" in waiting.output
    assert "enabled" in _cli(database_url, "enable", created["id"])
    with worker_thread(database_url):
        wait_until(lambda: len(receiver.received()) == 2, "the replayed range is delivered")
    assert {each.webhook_id for each in receiver.received()} == {delivery["event_id"]}

    rotated = json.loads(_cli(database_url, "rotate-secret", created["id"], "--json"))
    assert rotated["secret"] != created["secret"] and len(rotated["secrets"]) == 2
    refused = runner.invoke(
        cli,
        [
            "webhooks",
            "deliveries",
            created["id"],
            "--status",
            "lost",
            "--database-url",
            database_url,
        ],
    )
    assert refused.exit_code != 0 and "lost" in refused.output
    assert "Removed" in _cli(database_url, "remove", created["id"])
    missing = runner.invoke(
        cli, ["webhooks", "remove", created["id"], "--database-url", database_url]
    )
    assert missing.exit_code != 0 and "no webhook endpoint" in missing.output.lower()
