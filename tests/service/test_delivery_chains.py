"""A sender goes on with an endpoint's backlog delivery after delivery, and back to the claim
now and then, so that older events of other endpoints are not kept waiting behind it."""

from pathlib import Path

from event_support import private_server, published
from scim_payloads import user
from scimgate.service.event_stream import webhooks
from scimgate.service.event_stream.worker import CHAIN_LIMIT
from webhook_support import (
    LOOPBACK,
    organization_with,
    receiving,
    wait_while_progressing,
    worker_thread,
)


def test_a_backlog_goes_out_in_chains_that_let_an_older_event_of_another_endpoint_through(
    database_url: str, tmp_path: Path
) -> None:
    with private_server(database_url, tmp_path) as server, receiving() as receiver:
        busy, quiet = organization_with(server, 1), organization_with(server, 1)
        for organization, path in ((busy, "/busy"), (quiet, "/quiet")):
            webhooks.register(
                server.engine, receiver.url(path), organization_id=organization.id, allowed=LOOPBACK
            )
        busy_client, quiet_client = busy.directories[0].http, quiet.directories[0].http
        for index in range(2 * CHAIN_LIMIT + 10):
            if index == 3:
                created = quiet_client.post("/Users", json=user("early@quiet.io"))
                assert created.status_code == 201, created.text
            created = busy_client.post("/Users", json=user(f"u{index}@busy.io"))
            assert created.status_code == 201, created.text
        expected = published(server.engine)

        # One sender: the busy endpoint's backlog and the quiet endpoint share it.
        url = server.engine.url.render_as_string(hide_password=False)
        with worker_thread(url, concurrency=1):
            wait_while_progressing(
                lambda: len(receiver.received()), len(expected), "every event is delivered"
            )

    arrived = receiver.received()
    assert sorted(each.webhook_id for each in arrived) == sorted(each.id for each in expected)
    # The quiet endpoint's event is older than most of the busy backlog: it goes out after
    # one chain of the busy endpoint's deliveries at most, not after all of them.
    paths = [each.path for each in arrived]
    assert paths.index("/quiet") <= CHAIN_LIMIT
    busy_order = [each.event["sequence"] for each in arrived if each.path == "/busy"]
    assert busy_order == sorted(busy_order)
