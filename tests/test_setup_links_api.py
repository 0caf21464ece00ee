"""Setup links over the management API and the CLI: the URL is shown once, links can be revoked."""

import re

import httpx
from typer.testing import CliRunner

from conftest import LiveServer
from scimgate.cli.main import app
from scimgate.service.administration import admin_keys, tenants


def _organization(admin: httpx.Client, name: str = "Links Inc") -> str:
    created = admin.post("/organizations", json={"name": name})
    assert created.status_code == 201
    organization_id: str = created.json()["id"]
    return organization_id


def test_a_setup_link_url_is_shown_once(live_server: LiveServer, admin: httpx.Client) -> None:
    organization_id = _organization(admin)
    created = admin.post(f"/organizations/{organization_id}/setup-links", json={"valid_days": 2})
    assert created.status_code == 201
    body = created.json()
    assert body["url"].startswith(f"{live_server.url}/setup/scimgate_setup_")
    assert body["link"]["state"] == "unopened"
    listed = admin.get(f"/organizations/{organization_id}/setup-links")
    assert [link["id"] for link in listed.json()["data"]] == [body["link"]["id"]]
    secret = body["url"].rsplit("/", 1)[1]
    assert secret not in listed.text
    assert "url" not in listed.json()["data"][0]


def test_revoking_a_link_closes_it(live_server: LiveServer, admin: httpx.Client) -> None:
    organization_id = _organization(admin)
    url = admin.post(f"/organizations/{organization_id}/setup-links", json={}).json()["url"]
    link_id = admin.get(f"/organizations/{organization_id}/setup-links").json()["data"][0]["id"]
    revoked = admin.post(f"/setup-links/{link_id}/revoke")
    assert revoked.status_code == 200
    assert revoked.json()["state"] == "revoked"
    with httpx.Client() as browser:
        opened = browser.get(url)
        assert opened.status_code == 410
        assert "revoked" in opened.text
        assert "scimgate_setup" not in opened.cookies


def test_links_are_checked_against_their_organization(
    live_server: LiveServer, admin: httpx.Client
) -> None:
    mine, theirs = _organization(admin, "Mine"), _organization(admin, "Theirs")
    their_directory = admin.post(
        f"/organizations/{theirs}/directories", json={"name": "Okta"}
    ).json()["directory"]["id"]
    crossed = admin.post(
        f"/organizations/{mine}/setup-links", json={"directory_id": their_directory}
    )
    assert crossed.status_code == 404
    assert admin.get(f"/organizations/{mine}/setup-links").json()["data"] == []
    unknown = admin.post("/organizations/nope/setup-links", json={})
    assert unknown.status_code == 404
    too_long = admin.post(f"/organizations/{mine}/setup-links", json={"valid_days": 31})
    assert too_long.status_code == 400
    assert admin.post("/setup-links/nope/revoke").status_code == 404


def test_a_read_only_key_cannot_create_or_revoke_links(
    live_server: LiveServer, admin: httpx.Client
) -> None:
    organization_id = _organization(admin)
    key = admin_keys.create_key(live_server.engine, "reader", "read")
    with httpx.Client(
        base_url=f"{live_server.url}/api/v1", headers={"Authorization": f"Bearer {key.secret}"}
    ) as reader:
        assert (
            reader.post(f"/organizations/{organization_id}/setup-links", json={}).status_code == 403
        )
        assert reader.get(f"/organizations/{organization_id}/setup-links").json()["data"] == []


def test_the_cli_creates_lists_and_revokes_links(
    database_url: str, live_server: LiveServer
) -> None:
    organization = tenants.create_organization(live_server.engine, "CLI links")
    runner = CliRunner()
    database = ["--database-url", database_url]
    created = runner.invoke(
        app,
        [
            "setup-links",
            "create",
            organization.id,
            "--base-url",
            "https://scim.example.com",
            "--days",
            "3",
            *database,
        ],
    )
    assert created.exit_code == 0, created.output
    assert re.search(r"https://scim\.example\.com/setup/scimgate_setup_\S+", created.output)
    link_id = re.search(r"Setup link id: (\S+)", created.output)
    assert link_id is not None
    listed = runner.invoke(app, ["setup-links", "list", organization.id, "--json", *database])
    assert listed.exit_code == 0
    assert '"state": "unopened"' in listed.output
    assert "scimgate_setup_" not in listed.output
    revoked = runner.invoke(app, ["setup-links", "revoke", link_id.group(1), *database])
    assert revoked.exit_code == 0, revoked.output
    listed = runner.invoke(app, ["setup-links", "list", organization.id, "--json", *database])
    assert '"state": "revoked"' in listed.output
    unknown = runner.invoke(app, ["setup-links", "create", "nope", *database])
    assert unknown.exit_code != 0
