"""Retrying a failing webhook delivery now, once its endpoint is fixed, instead of after backoff."""

import threading

from typer.testing import CliRunner

from conftest import LiveServer
from scim_payloads import user
from scimgate.cli.main import app
from webhook_support import (
    Endpoints,
    Receiver,
    Reply,
    organization_with,
    wait_until,
    worker_thread,
)

LONG_BACKOFF = (600.0, 600.0)
"""After a failure the next attempt is ten minutes away: only a retry brings it sooner."""


def test_a_failing_delivery_is_retried_at_once_and_keeps_its_place(
    live_server: LiveServer, database_url: str, endpoints: Endpoints, receiver: Receiver
) -> None:
    org = organization_with(live_server, 1)
    endpoint = endpoints.register(
        receiver.url(), organization_id=org.id, event_types=["user.created"]
    )
    fixed = threading.Event()
    receiver.plan = lambda _: Reply(200) if fixed.is_set() else Reply(503)
    with worker_thread(database_url, schedule=LONG_BACKOFF):
        org.directories[0].http.post("/Users", json=user("retry-me"))
        wait_until(lambda: bool(receiver.received()), "the first attempt fails")
        [failing] = endpoints.deliveries(endpoint["id"])
        wait_until(
            lambda: endpoints.deliveries(endpoint["id"])[0]["attempts"] == 1, "it is counted"
        )
        fixed.set()
        retried = endpoints.admin.post(f"/webhooks/deliveries/{failing['id']}/retry")
        assert retried.status_code == 200
        assert retried.json()["id"] == failing["id"], "the same delivery, not a new one"
        wait_until(lambda: endpoints.all_delivered(endpoint["id"], 1), "the retry is delivered")
    assert len(receiver.received()) == 2
    assert {each.webhook_id for each in receiver.received()} == {failing["event_id"]}
    again = endpoints.admin.post(f"/webhooks/deliveries/{failing['id']}/retry")
    assert again.status_code == 409
    assert "replay it" in again.json()["detail"]
    missing = endpoints.admin.post("/webhooks/deliveries/nope/retry")
    assert missing.status_code == 404


def test_the_cli_retries_a_waiting_delivery(
    live_server: LiveServer, database_url: str, endpoints: Endpoints, receiver: Receiver
) -> None:
    org = organization_with(live_server, 1)
    endpoint = endpoints.register(
        receiver.url(), organization_id=org.id, event_types=["user.created"]
    )
    endpoints.admin.post(f"/webhooks/{endpoint['id']}/disable")
    org.directories[0].http.post("/Users", json=user("queued"))
    with worker_thread(database_url, schedule=LONG_BACKOFF):
        wait_until(lambda: bool(endpoints.deliveries(endpoint["id"])), "the event is queued")
    [waiting] = endpoints.deliveries(endpoint["id"])
    runner = CliRunner()
    retried = runner.invoke(
        app, ["webhooks", "retry", waiting["id"], "--database-url", database_url]
    )
    assert retried.exit_code == 0, retried.output
    assert "is due now" in retried.output
    assert endpoints.deliveries(endpoint["id"])[0]["status"] == "pending", (
        "a disabled endpoint still waits to be enabled"
    )
