"""Admin API keys: read and write scopes, revocation, hashed storage, the audit of refusals."""

import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from conftest import LiveServer
from scimgate.cli.main import app as cli
from scimgate.service.administration import admin_keys
from scimgate.store.tables.access import admin_keys as admin_keys_table
from scimgate.store.tables.logs import audit_log
from scimgate.store.transactions import reading

runner = CliRunner()


def _client(server: LiveServer, secret: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{server.url}/api/v1",
        headers={"Authorization": f"Bearer {secret}"},
        timeout=30,
    )


@pytest.fixture
def read_key(live_server: LiveServer) -> Iterator[tuple[admin_keys.IssuedKey, httpx.Client]]:
    issued = admin_keys.create_key(live_server.engine, "dashboard", "read")
    with _client(live_server, issued.secret) as client:
        yield issued, client


def _audit_rows(server: LiveServer, actor: str) -> list[dict[str, Any]]:
    with reading(server.engine) as conn:
        rows = conn.execute(
            select(audit_log).where(audit_log.c.actor == actor).order_by(audit_log.c.seq)
        )
        return [dict(row._mapping) for row in rows]


def test_a_key_is_shown_once_and_stored_only_as_its_hash(live_server: LiveServer) -> None:
    issued = admin_keys.create_key(live_server.engine, "ci", "write")
    assert issued.secret.startswith("scimgate_admin_")
    assert len(issued.secret) - len("scimgate_admin_") >= 43  # 32 random bytes, base64url
    with reading(live_server.engine) as conn:
        stored = conn.execute(select(admin_keys_table)).all()
    texts = [str(value) for row in stored for value in row]
    assert not any(issued.secret in text for text in texts)
    assert hashlib.sha256(issued.secret.encode()).hexdigest() in texts
    listed = next(
        key for key in admin_keys.list_keys(live_server.engine) if key.id == issued.record.id
    )
    assert issued.secret not in repr(listed)


def test_a_read_key_may_look(
    live_server: LiveServer, read_key: tuple[admin_keys.IssuedKey, httpx.Client]
) -> None:
    issued, client = read_key
    assert client.get("/directories").status_code == 200
    assert client.head("/keys").status_code in (200, 405)
    listed = client.get("/keys").json()["data"]
    mine = next(key for key in listed if key["id"] == issued.record.id)
    assert mine["scope"] == "read"
    assert mine["last_used_at"] is not None
    assert all("secret" not in key for key in listed)
    assert issued.secret not in client.get("/keys").text
    # Written at most once a minute: the requests just made did not move it.
    again = next(key for key in client.get("/keys").json()["data"] if key["id"] == mine["id"])
    assert again["last_used_at"] == mine["last_used_at"]


MUTATIONS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/organizations", {"name": "not allowed"}),
    ("POST", "/keys", {"name": "escalate", "scope": "write"}),
    ("POST", "/webhooks", {"url": "https://example.com/hooks"}),
    ("POST", "/directories/{directory_id}/tokens", {"name": "sneaky"}),
    ("POST", "/directories/{directory_id}/tokens/rotate", None),
    ("PATCH", "/directories/{directory_id}", {"assignment_group": None}),
    ("PUT", "/directories/{directory_id}/mappings/{name}", {"path": "title"}),
    ("POST", "/directories/{directory_id}/roles", {"kind": "default", "role": "viewer"}),
    ("POST", "/directories/{directory_id}/held/release", None),
]


def test_a_read_key_changes_nothing(
    live_server: LiveServer,
    admin: httpx.Client,
    read_key: tuple[admin_keys.IssuedKey, httpx.Client],
) -> None:
    issued, client = read_key
    org = admin.post("/organizations", json={"name": "read-only target"}).json()
    directory_id = admin.post(
        f"/organizations/{org['id']}/directories", json={"name": "dir"}
    ).json()["directory"]["id"]
    views = [
        "/organizations",
        "/keys",
        "/webhooks",
        f"/directories/{directory_id}/tokens",
        f"/directories/{directory_id}/mappings",
        f"/directories/{directory_id}/roles",
    ]
    before = [admin.get(view).json() for view in views]
    for method, path, body in MUTATIONS:
        url = path.format(directory_id=directory_id, name="cost_center")
        answer = client.request(method, url, json=body)
        assert answer.status_code == 403, (method, path, answer.text)
        assert "read-only" in answer.json()["detail"]
    after = [admin.get(view).json() for view in views]
    for view, old, new in zip(views, before, after, strict=True):
        if view == "/keys":  # only the read key's own last-used time may move
            for key in [*old["data"], *new["data"]]:
                key.pop("last_used_at")
        assert old == new, view
    refused = _audit_rows(live_server, f"{issued.record.id} dashboard")
    assert [row["outcome"] for row in refused] == ["refused"] * len(MUTATIONS)
    assert [row["action"] for row in refused] == [
        f"{method} /api/v1{path}" for method, path, _ in MUTATIONS
    ]
    assert all(row["detail"].startswith("403") for row in refused)


def test_revoked_and_unknown_keys_are_refused(live_server: LiveServer, admin: httpx.Client) -> None:
    issued = admin.post("/keys", json={"name": "temporary", "scope": "write"}).json()
    with _client(live_server, issued["secret"]) as client:
        assert client.get("/keys").status_code == 200
        assert admin.post(f"/keys/{issued['key']['id']}/revoke").status_code == 204
        revoked = client.get("/keys")
        assert revoked.status_code == 401
        assert "revoked" in revoked.json()["detail"]
        assert client.post("/organizations", json={"name": "x"}).status_code == 401
    assert admin.post(f"/keys/{issued['key']['id']}/revoke").status_code == 404
    with _client(live_server, "scimgate_admin_" + "x" * 43) as stranger:
        assert stranger.get("/keys").status_code == 401
    basic = httpx.get(
        f"{live_server.url}/api/v1/keys",
        headers={"Authorization": f"Basic {issued['secret']}"},
    )
    assert basic.status_code == 401
    refused = _audit_rows(live_server, "unauthenticated")
    assert any(
        row["action"] == "POST /api/v1/organizations" and row["outcome"] == "refused"
        for row in refused
    )


def test_the_cli_manages_keys_and_audits_its_changes(database_url: str) -> None:
    created = runner.invoke(
        cli, ["keys", "create", "nightly export", "--scope", "read", "--database-url", database_url]
    )
    assert created.exit_code == 0, created.output
    secret = next(word for word in created.output.split() if word.startswith("scimgate_admin_"))
    key_id = created.output.split("Key id: ")[1].split()[0]
    listed = runner.invoke(cli, ["keys", "list", "--json", "--database-url", database_url])
    assert key_id in listed.output and secret not in listed.output
    bad = runner.invoke(
        cli, ["keys", "create", "x", "--scope", "admin", "--database-url", database_url]
    )
    assert bad.exit_code != 0
    revoked = runner.invoke(cli, ["keys", "revoke", key_id, "--database-url", database_url])
    assert revoked.exit_code == 0, revoked.output
    again = runner.invoke(cli, ["keys", "revoke", key_id, "--database-url", database_url])
    assert again.exit_code != 0
    org = runner.invoke(
        cli, ["orgs", "create", "Cli Org", "--quiet", "--database-url", database_url]
    )
    assert org.exit_code == 0, org.output
    orgs = runner.invoke(cli, ["orgs", "list", "--json", "--database-url", database_url])
    assert org.output.strip() in orgs.output
    log = runner.invoke(cli, ["audit", "list", "--json", "--database-url", database_url])
    assert log.exit_code == 0, log.output
    assert secret not in log.output
    assert '"organization.create"' in log.output
    assert f'"target_id": "{key_id}"' in log.output
    mine = runner.invoke(
        cli,
        ["audit", "list", "--json", "--actor", "no such actor", "--database-url", database_url],
    )
    assert mine.output.strip() == "[]"
