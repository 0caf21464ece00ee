"""Where webhooks may go: every non-public address form is refused at registration (API, command
line, portal) and again at delivery time, after resolving; URL credentials are refused and
never shown; redirects are not followed; answers are shown to write keys only."""

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from conftest import ADMIN_TOKEN, LOOPBACK_RECEIVERS, LiveServer, serving
from portal_support import sign_in
from scim_payloads import ERROR_SCHEMA, user
from scimgate.cli.main import app as cli
from scimgate.config import ALLOWED_HOSTS_VARIABLE, AllowedHosts, EventSettings
from scimgate.service.administration import admin_keys
from scimgate.service.event_stream import destinations, webhooks
from scimgate.service.event_stream.destinations import RefusedDestination
from scimgate.store import webhook_endpoints
from scimgate.store.ids import new_id, utcnow
from scimgate.store.transactions import writing
from webhook_support import (
    Endpoints,
    Receiver,
    Reply,
    organization_with,
    wait_until,
    worker_thread,
)

runner = CliRunner()

PORT = 9


@dataclass(frozen=True)
class Form:
    """A URL whose host is not public, and what its refusal must say."""

    url: str
    says: str
    loopback: bool = False
    """It leads to this machine: at delivery time, to the port of a running receiver."""


def _own_name() -> list[Form]:
    """This machine's host name, which resolves to one of its own addresses (loopback, or a
    private one in a container): a plain name, refused only once resolved."""
    name = socket.gethostname()
    try:
        found = destinations.resolve(name, 80, 10.0)
    except OSError:
        return []
    special = name in destinations.LOCAL_NAMES or name.endswith(destinations.LOCAL_SUFFIXES)
    if special or not found or any(destinations.non_public(each) is None for each in found):
        return []
    loopback = all(each.is_loopback for each in found)
    return [Form(f"http://{name}:{{port}}/hook", f"({name} resolves to it)", loopback=loopback)]


FORMS = [
    *_own_name(),
    Form("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
    Form("http://[fd00:ec2::254]/latest/meta-data/", "fd00:ec2::254 is a unique-local address"),
    Form("http://metadata.google.internal/computeMetadata/v1/", "reserved for local networks"),
    Form("http://0.0.0.0:{port}/hook", "0.0.0.0 is an unspecified address", loopback=True),
    Form("http://[::1]:{port}/hook", "::1 is a loopback address", loopback=True),
    Form("http://localhost:{port}/hook", "reserved for local networks", loopback=True),
    Form("http://127.1:{port}/hook", "127.0.0.1 is a loopback address", loopback=True),
    Form("http://2130706433:{port}/hook", "127.0.0.1 is a loopback address", loopback=True),
    Form("http://0x7f.1:{port}/hook", "127.0.0.1 is a loopback address", loopback=True),
    Form("http://017700000001:{port}/hook", "127.0.0.1 is a loopback address", loopback=True),
    Form("http://[::ffff:127.0.0.1]:{port}/hook", "is a loopback address", loopback=True),
    Form("http://10.1.2.3/hook", "10.1.2.3 is a private address"),
    Form("http://172.16.0.1/hook", "172.16.0.1 is a private address"),
    Form("http://192.168.1.1/hook", "192.168.1.1 is a private address"),
    Form("http://100.64.0.1/hook", "100.64.0.1 is a shared (carrier-grade NAT) address"),
    Form("http://224.0.0.1/hook", "224.0.0.1 is a multicast address"),
    Form("http://[ff02::1]/hook", "ff02::1 is a multicast address"),
    Form("http://240.0.0.1/hook", "240.0.0.1 is a reserved address"),
    Form("http://[fe80::1]/hook", "fe80::1 is a link-local address"),
    Form("http://[64:ff9b::a9fe:a9fe]/hook", "is a link-local address"),
    Form("http://[2002:7f00:1::1]/hook", "is a loopback address"),
]
"""Every form of a non-public destination: each is refused unless the operator allows it.

This machine's name is there when it resolves to its own addresses, as on any test machine."""

OTHER_REFUSALS = [
    ("https://user:pass@example.com/hook", "credentials"),
    ("https://token@example.com/hook", "credentials"),
    ("ftp://example.com/hook", "http or https"),
    ("file:///etc/passwd", "http or https"),
]

EVERYTHING = AllowedHosts.parse("0.0.0.0/0, ::/0, localhost, metadata.google.internal")
"""An operator who allows every destination: how a URL registered before gets in."""


def _url(form: Form, port: int = PORT) -> str:
    return form.url.format(port=port)


@pytest.mark.parametrize("form", FORMS, ids=lambda form: form.url)
def test_each_non_public_form_is_refused_naming_the_setting_that_allows_it(form: Form) -> None:
    with pytest.raises(RefusedDestination) as refused:
        destinations.check_url(_url(form), AllowedHosts())
    assert form.says in refused.value.detail
    assert ALLOWED_HOSTS_VARIABLE in refused.value.detail
    destinations.check_url(_url(form), EVERYTHING)


def test_what_the_operator_allows_and_what_stays_refused() -> None:
    loopback = AllowedHosts.parse("127.0.0.0/8, ::1")
    destinations.check_url("http://127.1:9/hook", loopback)
    destinations.check_url("http://[::ffff:127.0.0.1]:9/hook", loopback)
    destinations.check_url("http://[::1]:9/hook", loopback)
    with pytest.raises(RefusedDestination, match=r"10\.0\.0\.1 is a private"):
        destinations.check_url("http://10.0.0.1/hook", loopback)
    with pytest.raises(RefusedDestination, match="reserved for local networks"):
        destinations.check_url("http://localhost:9/hook", loopback)
    destinations.check_url("http://LocalHost.:9/hook", AllowedHosts.parse("localhost"))
    for public in ("https://example.com/hook", "http://8.8.8.8/hook", "https://[2606:4700::1]/"):
        destinations.check_url(public, AllowedHosts())
    for url, says in OTHER_REFUSALS:
        with pytest.raises(RefusedDestination, match=says):
            destinations.check_url(url, EVERYTHING)


@pytest.mark.parametrize("entry", ["exa mple.com", "10.0.0.0/33", "host/path", "a..b"])
def test_a_malformed_allowed_host_is_refused_at_start(entry: str) -> None:
    with pytest.raises(ValueError, match=ALLOWED_HOSTS_VARIABLE):
        AllowedHosts.parse(f"localhost,{entry}")


def test_credentials_are_masked() -> None:
    assert destinations.masked("https://u:p@example.com:8/x?y") == "https://***@example.com:8/x?y"
    assert destinations.masked("https://example.com/x") == "https://example.com/x"


@pytest.fixture(scope="module")
def strict_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server whose operator allows no destination besides public ones."""
    log = tmp_path_factory.mktemp("strict") / "server.log"
    with serving(database_url, log, SCIMGATE_WEBHOOK_ALLOWED_HOSTS="") as url:
        yield url


def _refused(answer: httpx.Response, *words: str) -> None:
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["schemas"] == [ERROR_SCHEMA] and body["scimType"] == "invalidValue"
    for word in words:
        assert word in body["detail"], body["detail"]
    assert "pass@" not in body["detail"]


def _unboxed(output: str) -> str:
    """A command's error as one line, out of the box the terminal drew around it."""
    return " ".join(output.replace("│", " ").split())


def test_registration_refuses_every_form_through_the_api_the_cli_and_the_portal(
    strict_server: str, live_server: LiveServer, database_url: str
) -> None:
    with httpx.Client(
        base_url=f"{strict_server}/api/v1", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ) as api:
        before = len(api.get("/webhooks").json()["data"])
        for form in FORMS:
            _refused(api.post("/webhooks", json={"url": _url(form)}), form.says, "ALLOWED_HOSTS")
        for url, says in OTHER_REFUSALS:
            _refused(api.post("/webhooks", json={"url": url}), says)
        assert len(api.get("/webhooks").json()["data"]) == before, "nothing was registered"

    portal = sign_in(strict_server, ADMIN_TOKEN)
    for form in FORMS:
        page = portal.post("/admin/webhooks", data={"url": _url(form)})
        assert page.status_code == 400 and form.says in page.text, page.text
    page = portal.post("/admin/webhooks", data={"url": OTHER_REFUSALS[0][0]})
    assert page.status_code == 400 and "credentials" in page.text
    portal.http.close()

    for form in FORMS:
        created = runner.invoke(
            cli,
            ["webhooks", "create", _url(form), "--database-url", database_url],
            env={ALLOWED_HOSTS_VARIABLE: ""},
        )
        assert created.exit_code != 0 and form.says in _unboxed(created.output), created.output
    allowed = runner.invoke(
        cli,
        ["webhooks", "create", "http://127.1:9/hook", "--json", "--database-url", database_url],
        env={ALLOWED_HOSTS_VARIABLE: "127.0.0.0/8"},
    )
    assert allowed.exit_code == 0, allowed.output
    webhooks.remove(live_server.engine, json.loads(allowed.output)["id"])


def test_at_delivery_time_every_form_is_refused_after_resolving_and_nothing_is_sent(
    live_server: LiveServer,
    database_url: str,
    admin: httpx.Client,
    endpoints: Endpoints,
    receiver: Receiver,
) -> None:
    """URLs registered while the operator allowed them (or whose names resolved elsewhere then)
    are refused when the worker is not allowed them: each delivery fails with the reason, and
    the receiver behind the loopback forms gets nothing."""
    org = organization_with(live_server, 1)
    port = int(receiver.url().rsplit(":", 1)[1].split("/")[0])
    registered = {
        webhooks.register(
            live_server.engine,
            _url(form, port),
            organization_id=org.id,
            event_types=["user.created"],
            allowed=EVERYTHING,
        ).endpoint.id: form
        for form in FORMS
    }
    endpoints.created.extend(registered)
    with worker_thread(database_url, schedule=(600.0,), allowed=AllowedHosts()):
        org.directories[0].http.post("/Users", json=user("ann"))

        def all_attempted() -> bool:
            found = [endpoints.deliveries(each) for each in registered]
            return all(len(each) == 1 and each[0]["attempts"] == 1 for each in found)

        wait_until(all_attempted, "every delivery is attempted once")
    assert receiver.received() == []
    assert any(form.loopback for form in registered.values())
    for endpoint_id, form in registered.items():
        [delivery] = endpoints.deliveries(endpoint_id)
        assert delivery["status"] == "pending"
        [attempt] = admin.get(f"/webhooks/deliveries/{delivery['id']}/attempts").json()["data"]
        assert attempt["status_code"] is None
        assert attempt["error"].startswith("Refused: "), (form.url, attempt["error"])
        assert form.says in attempt["error"] and ALLOWED_HOSTS_VARIABLE in attempt["error"]


def test_a_name_the_operator_allows_is_delivered_to_the_addresses_it_resolves_to(
    live_server: LiveServer,
    database_url: str,
    admin: httpx.Client,
    endpoints: Endpoints,
    receiver: Receiver,
) -> None:
    """``localhost``, allowed by name, resolves to loopback addresses: the worker connects to
    them (the one the receiver listens on among them)."""
    org = organization_with(live_server, 1)
    url = receiver.url().replace("127.0.0.1", "localhost")
    issued = webhooks.register(
        live_server.engine,
        url,
        organization_id=org.id,
        event_types=["user.created"],
        allowed=AllowedHosts.parse("localhost"),
    )
    endpoints.created.append(issued.endpoint.id)
    with worker_thread(database_url, schedule=(600.0,), allowed=AllowedHosts.parse("localhost")):
        org.directories[0].http.post("/Users", json=user("ann"))
        wait_until(lambda: len(receiver.received()) == 1, "allowed by name, it is delivered")


def test_a_redirect_is_not_followed(
    live_server: LiveServer,
    database_url: str,
    admin: httpx.Client,
    endpoints: Endpoints,
    receiver: Receiver,
) -> None:
    org = organization_with(live_server, 1)
    endpoint = endpoints.register(
        receiver.url(), organization_id=org.id, event_types=["user.created"]
    )
    inside = "http://169.254.169.254/latest/meta-data/"
    receiver.plan = lambda _: Reply(302, body="moved", headers={"location": inside})
    with worker_thread(database_url, schedule=(600.0,)):
        org.directories[0].http.post("/Users", json=user("ann"))
        wait_until(
            lambda: [each["attempts"] for each in endpoints.deliveries(endpoint["id"])] == [1],
            "one attempt",
        )
    [delivery] = endpoints.deliveries(endpoint["id"])
    assert delivery["status"] == "pending", "a redirect is a failed attempt"
    [attempt] = admin.get(f"/webhooks/deliveries/{delivery['id']}/attempts").json()["data"]
    assert attempt["status_code"] == 302
    assert len(receiver.received()) == 1


def _attempted_delivery(
    live_server: LiveServer, database_url: str, endpoints: Endpoints, receiver: Receiver
) -> str:
    """A delivery whose endpoint answered ``internal answer``; returns its id."""
    org = organization_with(live_server, 1)
    endpoint = endpoints.register(
        receiver.url(), organization_id=org.id, event_types=["user.created"]
    )
    receiver.plan = lambda _: Reply(200, body="internal answer")
    with worker_thread(database_url):
        org.directories[0].http.post("/Users", json=user("ann"))
        wait_until(lambda: endpoints.all_delivered(endpoint["id"], 1), "the delivery")
    delivery_id: str = endpoints.deliveries(endpoint["id"])[0]["id"]
    return delivery_id


def test_answers_are_shown_to_write_keys_only(
    live_server: LiveServer,
    database_url: str,
    admin: httpx.Client,
    endpoints: Endpoints,
    receiver: Receiver,
) -> None:
    delivery_id = _attempted_delivery(live_server, database_url, endpoints, receiver)
    path = f"/webhooks/deliveries/{delivery_id}/attempts"
    reader = admin_keys.create_key(live_server.engine, "reader", "read")
    writer = admin_keys.create_key(live_server.engine, "writer", "write")

    def api_sees(secret: str) -> str | None:
        with httpx.Client(
            base_url=f"{live_server.url}/api/v1", headers={"Authorization": f"Bearer {secret}"}
        ) as client:
            [attempt] = client.get(path).json()["data"]
            assert attempt["status_code"] == 200
            excerpt: str | None = attempt["response_excerpt"]
            return excerpt

    assert api_sees(writer.secret) == "internal answer"
    assert api_sees(reader.secret) is None

    def portal_sees(secret: str) -> str:
        portal = sign_in(live_server.url, secret)
        page = portal.get(f"/admin/webhooks/deliveries/{delivery_id}")
        rows = portal.get(f"/admin/webhooks/deliveries/{delivery_id}", headers={"HX-Request": "1"})
        portal.http.close()
        assert page.status_code == rows.status_code == 200
        return page.text + rows.text

    assert "internal answer" in portal_sees(writer.secret)
    assert "internal answer" not in portal_sees(reader.secret)
    shown = runner.invoke(
        cli, ["webhooks", "attempts", delivery_id, "--json", "--database-url", database_url]
    )
    assert "internal answer" in shown.output, "the operator's command line shows it"


def test_credentials_of_a_stored_url_are_never_shown(
    live_server: LiveServer, database_url: str, admin: httpx.Client, endpoints: Endpoints
) -> None:
    """A URL with credentials registered before they were refused: every output masks them."""
    org = organization_with(live_server, 1)
    endpoint_id = new_id()
    with writing(live_server.engine) as conn:
        webhook_endpoints.insert_endpoint(
            conn,
            webhook_endpoints.Endpoint(
                id=endpoint_id,
                organization_id=org.id,
                url="https://hook-user:hook-password@example.com/hook",
                description="from before",
                event_types=[],
                revocation_hook=False,
                enabled=True,
                disabled_reason=None,
                created_at=utcnow(),
            ),
        )
    endpoints.created.append(endpoint_id)
    hook = f"/webhooks/{endpoint_id}"
    portal = sign_in(live_server.url, ADMIN_TOKEN)
    shown = [
        admin.get("/webhooks").text,
        admin.get("/webhooks", params={"organization_id": org.id}).text,
        admin.get(hook).text,
        admin.post(f"{hook}/disable").text,
        admin.post(f"{hook}/enable").text,
        admin.post(f"{hook}/rotate-secret").text,
        portal.get("/admin/webhooks").text,
        portal.get(f"/admin{hook}").text,
        portal.post(f"/admin{hook}/rotate-secret").text,
    ]
    for args in (["list"], ["list", "--json"], ["disable", endpoint_id], ["enable", endpoint_id]):
        listed = runner.invoke(
            cli, ["webhooks", *args, "--database-url", database_url], env=LOOPBACK_RECEIVERS
        )
        assert listed.exit_code == 0, listed.output
        shown.append(listed.output)
    rotated = runner.invoke(
        cli, ["webhooks", "rotate-secret", endpoint_id, "--database-url", database_url]
    )
    shown.append(rotated.output)
    for text in shown:
        assert "hook-password" not in text and "hook-user" not in text
    portal.http.close()
    assert "https://***@example.com/hook" in shown[2]
    assert "https://***@example.com/hook" in shown[7]


def test_settings_keep_an_attempt_within_its_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    EventSettings(webhook_timeout=10, lease_seconds=20)
    for timeout, lease in ((10.0, 19.0), (60.0, 60.0), (0.0, 60.0), (-1.0, 60.0)):
        with pytest.raises(ValueError, match="SCIMGATE_LEASE_SECONDS"):
            EventSettings(webhook_timeout=timeout, lease_seconds=lease)
    monkeypatch.setenv("SCIMGATE_WEBHOOK_TIMEOUT", "50")
    refused = runner.invoke(cli, ["webhooks", "list", "--database-url", "sqlite:///unused.db"])
    assert refused.exit_code == 2
    assert "SCIMGATE_WEBHOOK_TIMEOUT" in refused.output


def test_a_bad_allowed_host_stops_a_command(tmp_path: Path) -> None:
    refused = runner.invoke(
        cli,
        ["webhooks", "list", "--database-url", f"sqlite:///{tmp_path / 'x.db'}"],
        env={ALLOWED_HOSTS_VARIABLE: "10.0.0.0/33"},
    )
    assert refused.exit_code == 2 and ALLOWED_HOSTS_VARIABLE in refused.output
