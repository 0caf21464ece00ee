"""Secrets are shown once, in the answer that creates them, and nowhere after that.

One server on a database of its own gets every kind of secret scimgate makes
(SCIM tokens, a rotated token, an admin key, a webhook secret, a setup link and
the token it reveals, browser session cookies) and a user's password; all of them
are then used. Afterwards nothing may show any of them: no portal page (every
page reachable by following links), no setup page, no management API answer,
no line of the server's log, and no stored row (webhook secrets aside: they are
kept to sign deliveries).
"""

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from conftest import ADMIN_TOKEN, LiveServer
from event_support import private_server
from portal_support import sign_in
from scim_payloads import user
from scimgate.store.tables import metadata

LINK = re.compile(r'href="(/(?:admin|setup)/[^"#]*)"')
PAGE_LIMIT = 300


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    with private_server(database_url, tmp_path) as served:
        yield served


def _crawl(http: httpx.Client, start: str, at_least: int) -> list[str]:
    """Every page reachable from ``start`` by links, except sign-out and static files."""
    seen: set[str] = set()
    queue = [start]
    texts = []
    while queue and len(seen) < PAGE_LIMIT:
        path = queue.pop(0).replace("&amp;", "&")
        if path in seen or path.startswith("/admin/static") or "sign-out" in path:
            continue
        seen.add(path)
        answer = http.get(path)
        assert answer.status_code < 500, (path, answer.text)
        texts.append(answer.text)
        queue.extend(LINK.findall(answer.text))
    assert len(seen) >= at_least, seen
    return texts


def test_secrets_are_shown_once_and_never_again(server: LiveServer, tmp_path: Path) -> None:
    api = httpx.Client(
        base_url=f"{server.url}/api/v1", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    organization = api.post("/organizations", json={"name": "Secretive"}).json()
    created = api.post(
        f"/organizations/{organization['id']}/directories", json={"name": "Okta", "idp": "okta"}
    ).json()
    directory_id = created["directory"]["id"]
    first_token = created["token"]["secret"]
    rotated_token = api.post(f"/directories/{directory_id}/tokens/rotate").json()["secret"]
    read_key = api.post("/keys", json={"name": "support", "scope": "read"}).json()["secret"]
    webhook_secret = api.post(
        "/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "organization_id": organization["id"]},
    ).json()["secret"]
    link_url = api.post(f"/organizations/{organization['id']}/setup-links", json={}).json()["url"]
    link_secret = link_url.rsplit("/", 1)[1]
    password = "Correct-Horse-Battery-Staple-42"

    # Use every secret, including a failing request whose bearer is nearly right.
    scim = httpx.Client(
        base_url=f"{server.url}/scim/v2/{directory_id}",
        headers={"Authorization": f"Bearer {first_token}"},
    )
    alice = scim.post("/Users", json=user("alice@acme.com", password=password))
    assert alice.status_code == 201
    assert scim.post("/Users", json=user("alice@acme.com", password=password)).status_code == 409
    wrong = scim.get("/Users", headers={"Authorization": f"Bearer {rotated_token}x"})
    assert wrong.status_code == 401
    assert scim.get("/Users", headers={"Authorization": f"Bearer {rotated_token}"}).is_success
    reader = httpx.Client(
        base_url=f"{server.url}/api/v1", headers={"Authorization": f"Bearer {read_key}"}
    )
    assert reader.get("/organizations").is_success

    setup = httpx.Client(base_url=server.url)
    assert setup.get(f"/setup/{link_secret}").status_code == 303
    setup_cookie = setup.cookies["scimgate_setup"]
    csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', setup.get("/setup/").text)
    assert csrf is not None
    setup.post(
        "/setup/directory", data={"csrf_token": csrf.group(1), "idp": "entra", "name": "Entra"}
    )
    revealed = setup.post("/setup/token", data={"csrf_token": csrf.group(1)})
    setup_token = re.search(r"scimgate_(?!setup_|session_|admin_)[A-Za-z0-9_-]{40,}", revealed.text)
    assert setup_token is not None, "the reveal shows the token"
    connected = httpx.Client(headers={"Authorization": f"Bearer {setup_token.group(0)}"})
    setup_directory = api.get(f"/organizations/{organization['id']}").json()["directories"]
    for directory in setup_directory:
        connected.get(f"{directory['scim_base_url']}/Users")

    portal = sign_in(server.url, ADMIN_TOKEN)
    portal_cookie = portal.http.cookies["scimgate_portal"]

    secrets = {
        "first SCIM token": first_token,
        "rotated SCIM token": rotated_token,
        "admin key": read_key,
        "webhook secret": webhook_secret,
        "setup link": link_secret,
        "token revealed by the setup link": setup_token.group(0),
        "portal session": portal_cookie,
        "setup session": setup_cookie,
        "password": password,
    }

    shown = {
        "portal pages": "\n".join(_crawl(portal.http, "/admin/", at_least=10)),
        "setup pages": "\n".join(_crawl(setup, "/setup/", at_least=4)),
        "management API": "\n".join(
            api.get(path).text
            for path in [
                "/organizations",
                f"/organizations/{organization['id']}",
                "/directories",
                f"/directories/{directory_id}",
                f"/directories/{directory_id}/tokens",
                f"/directories/{directory_id}/users",
                f"/directories/{directory_id}/logs?limit=100",
                "/keys",
                "/webhooks",
                f"/organizations/{organization['id']}/setup-links",
                "/audit?limit=1000",
                "/events?limit=1000",
            ]
        ),
        "server log": "\n".join(path.read_text() for path in tmp_path.glob("*.log")),
        "database": _dump_database(server),
    }
    for where, text in shown.items():
        for what, secret in secrets.items():
            assert secret not in text, f"the {what} appears in the {where}"
    assert "alice@acme.com" in shown["portal pages"], "the crawl reached the directory's data"


def _dump_database(server: LiveServer) -> str:
    """Every stored value as text, but webhook secrets, which must be kept to sign."""
    rows = []
    with server.engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table.name == "webhook_secrets":
                continue
            rows.extend(str(tuple(row)) for row in conn.execute(select(table)))
    return "\n".join(rows)
