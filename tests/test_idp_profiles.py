"""A directory knows its identity provider: declared when created, or recognised from requests."""

import re

import httpx
from typer.testing import CliRunner

from conftest import LiveServer, new_directory
from scimgate.cli.main import app
from scimgate.scim.idp import IdpProfile, recognise
from scimgate.service.administration import tenants
from scimgate.store import tenants as tenant_rows
from scimgate.store.transactions import reading


def _directory(server: LiveServer, directory_id: str) -> tenant_rows.Directory:
    with reading(server.engine) as conn:
        found = tenant_rows.get_directory(conn, directory_id)
    assert found is not None
    return found


def test_recognised_from_user_agent_and_entra_flags() -> None:
    assert recognise("Okta SCIM Client 1.0.0", []) is IdpProfile.okta
    assert recognise(None, ["aadOptscim062020"]) is IdpProfile.entra
    assert recognise("curl/8.5.0", ["count"]) is None


def test_first_recognised_idp_is_recorded_and_kept(live_server: LiveServer) -> None:
    scim = new_directory(live_server, "unknown idp")
    assert tenants.effective_idp(_directory(live_server, scim.directory_id)) is IdpProfile.generic
    scim.http.get("/Users", headers={"User-Agent": "python-httpx"})
    assert _directory(live_server, scim.directory_id).idp_detected is None
    scim.http.get("/Users", headers={"User-Agent": "Okta SCIM Client 1.0.0"})
    scim.http.get("/Users?aadOptscim062020")
    directory = _directory(live_server, scim.directory_id)
    assert directory.idp_detected == "okta"
    assert tenants.effective_idp(directory) is IdpProfile.okta


def test_declared_idp_wins(live_server: LiveServer, database_url: str) -> None:
    runner = CliRunner()
    organization = tenants.create_organization(live_server.engine, "Contoso")
    created = runner.invoke(
        app,
        ["directories", "create", "Contoso", "--org", organization.id, "--idp", "entra",
         "--database-url", database_url],
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    directory_id = re.search(r"Directory:\s+(\S+)", created.output)
    token = re.search(r"Bearer token:\s+(\S+)", created.output)
    assert directory_id and token
    httpx.get(
        f"{live_server.url}/scim/v2/{directory_id.group(1)}/Users",
        headers={"Authorization": f"Bearer {token.group(1)}", "User-Agent": "Okta SCIM Client"},
    )
    directory = _directory(live_server, directory_id.group(1))
    assert directory.idp == "entra"
    assert tenants.effective_idp(directory) is IdpProfile.entra
    listed = runner.invoke(app, ["directories", "list", "--database-url", database_url])
    assert re.search(rf"Contoso\s+│\s+entra\s+│.*{directory_id.group(1)}", listed.output)
    refused = runner.invoke(
        app,
        [
            "directories",
            "create",
            "X",
            "--org",
            organization.id,
            "--idp",
            "myspace",
            "--database-url",
            database_url,
        ],
    )
    assert refused.exit_code != 0
