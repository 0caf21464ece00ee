"""Acceptance: the example app loses a user's sessions and tokens when the IdP deactivates them."""

import base64
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import standardwebhooks

from conftest import ADMIN_TOKEN, DirectoryClient, LiveServer, free_port
from factories import organization_of
from scim_payloads import patch, user

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "revoking_app"
REVOCATION_SECONDS = 5.0


@contextmanager
def example_app(
    server: LiveServer, directory_id: str, tmp_path: Path, webhook_secret: str = ""
) -> Iterator[str]:
    """The example app in its own uvicorn process, consuming the live server's events."""
    port = free_port()
    log = (tmp_path / "example_app.log").open("w")
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "uvicorn", "--app-dir", str(EXAMPLE), "main:app"),
            *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
        ],
        env={
            **os.environ,
            "SCIMGATE_URL": server.url,
            "SCIMGATE_ADMIN_TOKEN": ADMIN_TOKEN,
            "SCIMGATE_DIRECTORY_ID": directory_id,
            "SCIMGATE_CURSOR_PATH": str(tmp_path / "scimgate.cursor"),
            "SCIMGATE_WEBHOOK_SECRET": webhook_secret,
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, tmp_path / "example_app.log")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the example app exited:\n{log.read_text()}"
        try:
            if httpx.get(f"{url}/me", timeout=1).status_code == 401:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("the example app did not start within 30 s")


def _signed_in(app_url: str, user_name: str) -> tuple[httpx.Client, httpx.Client]:
    """A browser with the user's session cookie, and an API client with their token."""
    browser = httpx.Client(base_url=app_url, timeout=10)
    assert browser.post("/login", json={"username": user_name}).status_code == 200
    token = browser.post("/tokens").json()["token"]
    api = httpx.Client(base_url=app_url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    return browser, api


def _statuses(browser: httpx.Client, api: httpx.Client) -> tuple[int, int]:
    return browser.get("/me").status_code, api.get("/api/me").status_code


def test_deactivation_in_the_idp_ends_sessions_and_tokens_with_proof(
    scim: DirectoryClient, live_server: LiveServer, admin: httpx.Client, tmp_path: Path
) -> None:
    ann = scim.http.post("/Users", json=user("ann@corp.example")).json()["id"]
    since = datetime.now(UTC) - timedelta(minutes=1)
    with example_app(live_server, scim.directory_id, tmp_path) as app_url:
        refused = httpx.post(f"{app_url}/login", json={"username": "nobody@corp.example"})
        assert refused.status_code == 401
        browser, api = _signed_in(app_url, "ANN@corp.example")
        assert _statuses(browser, api) == (200, 200)
        assert browser.get("/me").json() == {"user_id": ann, "username": "ann@corp.example"}
        assert api.get("/api/me").json()["user_id"] == ann

        deactivate = patch({"op": "replace", "path": "active", "value": False})
        assert scim.http.patch(f"/Users/{ann}", json=deactivate).status_code == 200
        deactivated_at = time.monotonic()
        while _statuses(browser, api) != (401, 401):
            assert time.monotonic() - deactivated_at < REVOCATION_SECONDS, "still signed in"
            time.sleep(0.1)
        again = httpx.post(f"{app_url}/login", json={"username": "ann@corp.example"})
        assert again.status_code == 401

    row = _confirmed_deprovisioning(
        admin, organization_of(live_server.engine, scim.directory_id), since
    )
    assert (row["user_id"], row["reason"]) == (ann, "deactivated")
    assert (row["notified_via"], row["confirmed_via"]) == ("events_api", "api")
    moments = [datetime.fromisoformat(row[key]) for key in ("requested_at", "notified_at")]
    moments.append(datetime.fromisoformat(row["confirmed_at"]))
    assert moments == sorted(moments)


def _confirmed_deprovisioning(
    admin: httpx.Client, organization_id: str, since: datetime
) -> dict[str, Any]:
    """The organization's one deprovisioning, once the app's confirmation has arrived."""
    deadline = time.monotonic() + 10
    while True:
        response = admin.get(
            "/offboarding/report",
            params={"organization_id": organization_id, "since": since.isoformat()},
        )
        assert response.status_code == 200, response.text
        rows = response.json()["data"]
        assert len(rows) == 1
        if rows[0]["confirmed_at"] is not None or time.monotonic() > deadline:
            return dict(rows[0])
        time.sleep(0.1)


def test_a_signed_webhook_revokes_and_a_forged_one_is_refused(
    scim: DirectoryClient, live_server: LiveServer, admin: httpx.Client, tmp_path: Path
) -> None:
    ann = scim.http.post("/Users", json=user("ann@corp.example")).json()["id"]
    created = admin.get("/events", params={"directory_id": scim.directory_id}).json()["data"][-1]
    assert (created["type"], created["data"]["user"]["id"]) == ("user.created", ann)
    # The event as a webhook would carry it had the IdP deactivated ann (it has not: the
    # event stream has nothing to act on, so only the webhook can revoke).
    deactivated = {**created, "type": "user.deactivated"}
    deactivated["data"] = {**created["data"], "reason": "deactivated"}
    body = httpx.Request("POST", "/", json=deactivated).content
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    at = datetime.now(UTC)
    signature = standardwebhooks.Webhook(secret).sign(created["id"], at, body.decode())
    headers = {
        "webhook-id": created["id"],
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }

    with example_app(live_server, scim.directory_id, tmp_path, webhook_secret=secret) as app_url:
        browser, api = _signed_in(app_url, "ann@corp.example")
        forged = httpx.post(
            f"{app_url}/webhooks/scimgate",
            content=body.replace(b"ann@corp.example", b"bob@corp.example"),
            headers=headers,
        )
        assert forged.status_code == 400
        assert _statuses(browser, api) == (200, 200)

        delivered = httpx.post(f"{app_url}/webhooks/scimgate", content=body, headers=headers)
        assert delivered.status_code == 204
        assert _statuses(browser, api) == (401, 401)
