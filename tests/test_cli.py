"""The command line: first start on an empty directory, and token management."""

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from click.testing import Result
from sqlalchemy import Engine
from typer.testing import CliRunner

from conftest import LiveServer, free_port
from portal_support import sign_in
from scim_payloads import patch, user
from scimgate.cli.main import app
from scimgate.service.administration import tenants
from scimgate.service.administration.bootstrap import prepare_database
from scimgate.store.engine import open_engine

URL = re.compile(r"SCIM base URL:\s+(\S+)")
TOKEN = re.compile(r"Bearer token:\s+(scimgate_\S+)")


@contextmanager
def serving_as_a_new_user(folder: Path, port: int) -> Iterator[str]:
    """`scimgate serve` in ``folder`` with no SCIMGATE_ setting; what it printed until it
    listened. It is stopped when the block ends."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCIMGATE_")}
    with subprocess.Popen(
        [sys.executable, "-m", "scimgate", "serve", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        assert process.stdout is not None
        printed = ""
        for line in process.stdout:
            printed += line
            if "Uvicorn running" in line:  # listening: startup completes before the bind
                break
        # Keep reading the server's output, or its access log fills the pipe and blocks it.
        threading.Thread(target=process.stdout.read, daemon=True).start()
        try:
            yield printed
        finally:
            process.terminate()
            process.wait(timeout=10)


@pytest.fixture
def first_start(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """`scimgate serve` in an empty working directory, as a new user runs it."""
    with serving_as_a_new_user(tmp_path, free_port()) as printed:
        url, token = URL.search(printed), TOKEN.search(printed)
        assert url and token, printed
        yield url.group(1), token.group(1), printed
    assert (tmp_path / "scimgate.db").exists()


def test_first_start_prints_a_working_url_and_token(
    first_start: tuple[str, str, str],
) -> None:
    base_url, token, _ = first_start
    with httpx.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
    ) as http:
        created = http.post("/Users", json=user("first@acme.com"))
        assert created.status_code == 201
        user_id = created.json()["id"]
        found = http.get("/Users", params={"filter": 'userName eq "first@acme.com"'}).json()
        assert [r["id"] for r in found["Resources"]] == [user_id]
        deactivated = http.patch(
            f"/Users/{user_id}", json=patch({"op": "replace", "path": "active", "value": False})
        )
        assert deactivated.json()["active"] is False
        assert http.delete(f"/Users/{user_id}").status_code == 204
        assert http.get(f"/Users/{user_id}").status_code == 404


def test_first_start_prints_a_portal_address_and_a_key_that_signs_in(
    first_start: tuple[str, str, str],
) -> None:
    _, scim_token, printed = first_start
    portal = re.search(r"Admin portal:\s+(\S+)", printed)
    key = re.search(r"Admin key:\s+(scimgate_admin_\S+)", printed)
    assert portal and key, printed
    root = portal.group(1).removesuffix("/admin/")
    signed_in = sign_in(root, key.group(1))
    assert "Demo organization" in signed_in.get("/admin/").text
    # The SCIM token opens SCIM only, never the portal.
    with httpx.Client(base_url=root) as http:
        form = http.get("/admin/sign-in").text
        form_token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert form_token is not None
        refused = http.post(
            "/admin/sign-in", data={"key": scim_token, "csrf_token": form_token.group(1)}
        )
        assert refused.status_code == 401


def test_a_taken_port_is_refused_before_anything_is_created(tmp_path: Path) -> None:
    """The one-time secrets are not spent on a server that cannot listen."""
    database = tmp_path / "scimgate.db"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            app, ["serve", "--port", str(port), "--database-url", f"sqlite:///{database}"]
        )
    assert result.exit_code == 2, result.output
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "nothing was created" in result.output
    assert "Bearer token" not in result.output and "Admin key" not in result.output
    assert not database.exists()


def test_a_later_start_says_how_to_make_an_admin_key(tmp_path: Path) -> None:
    """No key is shown again: the start says where the portal is and how to get a key."""
    engine = open_engine(f"sqlite:///{tmp_path / 'scimgate.db'}")
    try:
        assert prepare_database(engine).admin_key is not None  # the first start's, now spent
    finally:
        engine.dispose()
    port = free_port()
    with serving_as_a_new_user(tmp_path, port) as printed:
        pass
    assert "Admin key:" not in printed and "Bearer token:" not in printed, printed
    assert f"Admin portal:  http://127.0.0.1:{port}/admin/" in printed
    assert "'scimgate keys create NAME --scope write' makes a new one" in printed


def test_directories_and_token_rotation(database_url: str, live_server: LiveServer) -> None:
    runner = CliRunner()
    org = f"Acme {secrets.token_hex(4)}"
    made = runner.invoke(app, ["orgs", "create", org, "--quiet", "--database-url", database_url])
    assert made.exit_code == 0, made.output
    created = runner.invoke(
        app, ["directories", "create", "Okta", "--org", org, "--database-url", database_url]
    )
    assert created.exit_code == 0, created.output
    assert f"organization {org} ({made.output.strip()})" in created.output
    directory_id = re.search(r"Directory:\s+(\S+)", created.output)
    first_token = TOKEN.search(created.output)
    assert directory_id and first_token
    listed = runner.invoke(app, ["directories", "list", "--database-url", database_url])
    assert directory_id.group(1) in listed.output

    second = runner.invoke(
        app, ["tokens", "create", directory_id.group(1), "--database-url", database_url]
    )
    token_id = re.search(r"Token id:\s+(\S+)", second.output)
    second_token = TOKEN.search(second.output)
    assert token_id and second_token
    tokens = runner.invoke(
        app, ["tokens", "list", directory_id.group(1), "--database-url", database_url]
    )
    assert tokens.output.count("scimgate_") == 2
    assert first_token.group(1) not in tokens.output  # secrets are never shown again

    server_url = live_server.url
    scim_url = f"{server_url}/scim/v2/{directory_id.group(1)}/Users"
    for token in (first_token.group(1), second_token.group(1)):
        response = httpx.get(scim_url, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200
    revoked = runner.invoke(
        app,
        [
            "tokens",
            "revoke",
            directory_id.group(1),
            token_id.group(1),
            "--database-url",
            database_url,
        ],
    )
    assert revoked.exit_code == 0
    after = httpx.get(scim_url, headers={"Authorization": f"Bearer {second_token.group(1)}"})
    assert after.status_code == 401
    still = httpx.get(scim_url, headers={"Authorization": f"Bearer {first_token.group(1)}"})
    assert still.status_code == 200


def test_an_unknown_event_type_is_a_usage_error_not_a_traceback(database_url: str) -> None:
    refused = CliRunner().invoke(
        app, ["events", "list", "--type", "user.exploded", "--database-url", database_url]
    )
    assert refused.exit_code == 2, refused.output
    assert "Unknown event type 'user.exploded'" in " ".join(refused.output.split())
    assert refused.exception is None or isinstance(refused.exception, SystemExit)


def test_an_organization_is_named_by_id_or_exact_name_and_never_made_by_accident(
    database_url: str, engine: Engine
) -> None:
    runner = CliRunner()

    def cli(*args: str) -> Result:
        return runner.invoke(app, [*args, "--database-url", database_url])

    name = f"Initech {secrets.token_hex(4)}"
    made = cli("orgs", "create", name)
    assert made.exit_code == 0, made.output
    assert made.output.startswith(f"Created organization {name}: ")
    organization_id = made.output.split(": ")[1].split()[0]
    assert f"--org {organization_id}" in made.output  # what to do next
    for given in (organization_id, name):
        created = cli("directories", "create", f"By {given}", "--org", given)
        assert created.exit_code == 0, created.output
        assert f"organization {name} ({organization_id})" in created.output
        for command in (
            ["setup-links", "create", given],
            ["setup-links", "list", given],
            ["offboarding", "report", "--org", given],
            ["events", "list", "--org", given],
            ["audit", "list", "--org", given],
            ["webhooks", "list", "--org", given],
        ):
            assert cli(*command).exit_code == 0, (command, cli(*command).output)
    before = len(tenants.list_organizations(engine))
    for command in (
        ["directories", "create", "Lost", "--org", str(uuid.uuid4())],
        ["directories", "create", "Lost", "--org", "Nobody Inc"],
        ["setup-links", "create", "Nobody Inc"],
        ["offboarding", "report", "--org", "Nobody Inc"],
        ["webhooks", "create", "https://example.com/h", "--org", "Nobody Inc"],
    ):
        refused = cli(*command)
        assert refused.exit_code == 2, (command, refused.output)
        assert "no organization has the id or name" in refused.output, refused.output
        assert "scimgate orgs create NAME" in refused.output
        assert "Traceback" not in refused.output
    assert len(tenants.list_organizations(engine)) == before
    again = json.loads(cli("orgs", "create", name, "--json").output)
    assert again["name"] == name and again["id"] != organization_id
    assert again["created_at"].endswith("Z")
    ambiguous = cli("directories", "create", "Which", "--org", name)
    assert ambiguous.exit_code == 2
    assert "several organizations are named" in ambiguous.output
