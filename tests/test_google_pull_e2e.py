"""A Google Workspace directory end to end: connected from the IT admin's setup page, synced
by a worker process, its deprovisionings delivered as webhooks and in the offboarding report.

The server and the worker are real processes pointed at the fake Directory API
(``scimgate.simulator.google_workspace``) by their settings alone.
"""

import json
import os
import re
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from conftest import ADMIN_TOKEN, serving
from event_support import private_database, published
from scimgate.service.administration import setup_links, tenants
from scimgate.service.directory_sync.google_api import SCOPES
from scimgate.service.provisioning.every_resource import every_resource
from scimgate.simulator.google_workspace import FakeGoogle, serving_workspace
from scimgate.store.ids import utcnow
from scimgate.store.resource_tables import USERS
from webhook_support import Receiver, forked_workers, receiving, wait_until

ADMIN = "admin@example.com"
SESSION_CSRF = re.compile(r'"X-CSRF-Token": "([^"]+)"')
USERS_IN_GOOGLE = int(os.environ.get("SCIMGATE_TEST_GOOGLE_USERS", "500"))
"""People in the fake account: the acceptance size is 10,000 (set this variable)."""

GROUPS_IN_GOOGLE = max(10, USERS_IN_GOOGLE // 50)
SYNC_SECONDS = 3.0


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    with serving_workspace() as served:
        served.workspace.add_user(ADMIN, "Ada", "Admin", is_admin=True)
        yield served


def _csrf(browser: httpx.Client) -> str:
    found = SESSION_CSRF.search(browser.get("/setup/").text)
    assert found is not None
    return found.group(1)


def _link_directory(engine: Engine, link_id: str) -> str:
    directory = setup_links.open_link_view(engine, link_id).directory
    assert directory is not None
    return directory.id


def _deprovisionings(receiver: Receiver) -> Counter[tuple[str, str]]:
    return Counter(
        (event["type"], event["data"]["user"]["username"])
        for event in (request.event for request in receiver.received())
        if event["type"] in ("user.deactivated", "user.deleted")
    )


def test_a_google_directory_set_up_by_the_it_admin_syncs_and_offboards_within_an_interval(
    database_url: str, tmp_path: Path, google: FakeGoogle
) -> None:
    workspace = google.workspace
    workspace.populate(
        USERS_IN_GOOGLE,
        GROUPS_IN_GOOGLE,
        members_per_group=50,
        org_units=["/Staff", "/Staff/Sales"],
    )
    key = workspace.service_account_key()
    workspace.grant_delegation(key["client_id"], SCOPES)
    settings = {
        "SCIMGATE_GOOGLE_API_URL": google.url,
        "SCIMGATE_GOOGLE_TOKEN_URL": google.token_uri,
        "SCIMGATE_GOOGLE_SYNC_MINUTES": str(SYNC_SECONDS / 60),
        "SCIMGATE_GOOGLE_BACKOFF_SECONDS": "0.01",
    }
    with (
        private_database(database_url, tmp_path) as (url, engine),
        serving(url, tmp_path / "server.log", **settings) as server,
        receiving() as receiver,
        httpx.Client(
            base_url=f"{server}/api/v1", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        ) as admin,
        httpx.Client(base_url=server, timeout=60) as browser,
    ):
        organization = tenants.create_organization(engine, f"Acme {secrets.token_hex(3)}")
        endpoint = admin.post(
            "/webhooks", json={"url": receiver.url(), "organization_id": organization.id}
        )
        assert endpoint.status_code == 201, endpoint.text
        link = setup_links.create_link(engine, organization.id, valid_for=timedelta(days=1))

        # The IT admin opens the link, chooses Google Workspace, and connects it.
        assert browser.get(f"/setup/{link.secret}").status_code == 303
        chosen = browser.post(
            "/setup/directory", data={"csrf_token": _csrf(browser), "idp": "google-workspace"}
        )
        assert chosen.status_code == 303
        page = browser.get("/setup/")
        assert "Check with Google and connect" in page.text and SCOPES[0] in page.text
        form = {
            "csrf_token": _csrf(browser),
            "admin_email": ADMIN,
            "customer_id": "my_customer",
            "scope_kind": "org_units",
            "scope_values": "/Staff",
        }
        files = {"key": ("key.json", json.dumps(key), "application/json")}
        workspace.revoke_delegation(key["client_id"])
        refused = browser.post("/setup/google", data=form, files=files)
        assert refused.status_code == 400
        alert = re.search(r'class="alert alert-bad" role="alert">([^<]+)<', refused.text)
        assert alert is not None and "Google refused the service account" in alert.group(1)
        assert key["client_id"] in alert.group(1)
        workspace.grant_delegation(key["client_id"], SCOPES)
        form["csrf_token"] = _csrf(browser)
        connected = browser.post("/setup/google", data=form, files=files)
        assert connected.status_code == 303, connected.text
        # Google's quota answers slow the first sync down; they do not fail it.
        workspace.fail_requests(3, status=403, reason="userRateLimitExceeded")

        with forked_workers(url, tmp_path, 1, **settings):
            directory_id = _link_directory(engine, link.link.id)
            wait_until(
                lambda: (
                    admin.get(f"/directories/{directory_id}/google").json()["last_finished_at"]
                    is not None
                ),
                "the first sync ended",
                timeout=600,
            )
            assert "Last synced" in browser.get("/setup/google/status").text
            synced = list(every_resource(engine, directory_id, USERS))
            assert len(synced) == USERS_IN_GOOGLE
            status = admin.get(f"/directories/{directory_id}/google").json()
            assert status["last_error"] is None, status
            assert status["last_counts"]["retries"] >= 3
            assert status["last_counts"]["groups"] == GROUPS_IN_GOOGLE
            mark = utcnow()

            people = [u for u in workspace.users() if u.primary_email != ADMIN]
            suspended, moved, deleted = people[10], people[11], people[12]
            workspace.suspend_user(suspended.id)
            workspace.move_user(moved.id, "/Contractors")
            workspace.delete_user(deleted.id)
            expected = {
                ("user.deactivated", suspended.primary_email),
                ("user.deactivated", moved.primary_email),
                ("user.deleted", deleted.primary_email),
            }
            changed = utcnow()

            def status() -> dict[str, Any]:
                found: dict[str, Any] = admin.get(f"/directories/{directory_id}/google").json()
                return found

            # The first sync to start after the changes publishes all three.
            wait_until(
                lambda: (
                    (finished := status()["last_finished_at"]) is not None
                    and datetime.fromisoformat(status()["last_started_at"]) > changed
                    and datetime.fromisoformat(finished) > changed
                ),
                "a sync started after the changes and ended",
                timeout=600,
            )
            after_one_sync = {
                (event.type, event.data["user"]["username"])
                for event in published(engine, directory_id)
                if event.type in ("user.deactivated", "user.deleted")
            }
            assert after_one_sync == expected
            wait_until(
                lambda: set(_deprovisionings(receiver)) == expected,
                "the three deprovisionings were delivered as webhooks",
                timeout=600,
            )
            # Later syncs deliver nothing again.
            time.sleep(2 * SYNC_SECONDS)
            assert _deprovisionings(receiver) == Counter(expected)

        report = admin.get(
            "/offboarding/report",
            params={"organization_id": organization.id, "since": mark.isoformat()},
        )
        assert report.status_code == 200, report.text
        rows = report.json()["data"]
        assert sorted(row["user_name"] for row in rows) == sorted(
            user.primary_email for user in (suspended, moved, deleted)
        )


def test_google_s_push_notifications_bring_a_deprovisioning_before_the_interval(
    database_url: str, tmp_path: Path, google: FakeGoogle
) -> None:
    """With a public address, a suspension in Google is synced when Google tells of it, not
    at the next interval (an hour here)."""
    workspace = google.workspace
    workspace.populate(20, org_units=["/Staff"])
    key = workspace.service_account_key()
    workspace.grant_delegation(key["client_id"], SCOPES)
    with private_database(database_url, tmp_path) as (url, engine):
        organization = tenants.create_organization(engine, f"Acme {secrets.token_hex(3)}")
        with serving(
            url,
            tmp_path / "server.log",
            SCIMGATE_GOOGLE_API_URL=google.url,
            SCIMGATE_GOOGLE_TOKEN_URL=google.token_uri,
        ) as server:
            settings = {
                "SCIMGATE_GOOGLE_API_URL": google.url,
                "SCIMGATE_GOOGLE_TOKEN_URL": google.token_uri,
                "SCIMGATE_GOOGLE_SYNC_MINUTES": "60",
                "SCIMGATE_PUBLIC_URL": server,
            }
            with httpx.Client(
                base_url=f"{server}/api/v1", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
            ) as admin:
                created = admin.post(
                    f"/organizations/{organization.id}/google-directories",
                    json={"name": "Google", "admin_email": ADMIN, "service_account_key": key},
                )
                assert created.status_code == 201, created.text
                directory_id = created.json()["directory"]["id"]
                with forked_workers(url, tmp_path, 1, **settings):
                    wait_until(
                        lambda: len([c for c in workspace.channels if not c.stopped]) == 4,
                        "the first sync opened a channel per kind of user change",
                        timeout=120,
                    )
                    leaver = next(u for u in workspace.users() if u.primary_email != ADMIN)
                    workspace.suspend_user(leaver.id)
                    wait_until(
                        lambda: any(
                            event.type == "user.deactivated"
                            for event in published(engine, directory_id)
                        ),
                        "the suspension was synced on Google's notification",
                        timeout=120,
                    )
                    forged = httpx.post(
                        f"{server}/google/notifications",
                        headers={
                            "X-Goog-Channel-ID": workspace.channels[0].id,
                            "X-Goog-Channel-Token": "guessed",
                            "X-Goog-Resource-State": "update",
                        },
                    )
                    assert forged.status_code == 404
