"""The IT admin connects Google Workspace in a real browser: the key, the scope, the status.

Debian's Chromium, headless, against a live server pointed at the stand-in for
Google Workspace; screenshots under ``artifacts/screenshots``.
"""

import json
import re
import secrets
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from browser_support import Screenshots
from conftest import serving
from scimgate.config import GoogleSettings
from scimgate.service.administration import google_directories, setup_links, tenants
from scimgate.service.directory_sync.google_api import SCOPES
from scimgate.simulator.google_workspace import FakeGoogle, serving_workspace
from scimgate.store.engine import open_engine

ADMIN = "admin@example.com"


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    with serving_workspace() as served:
        served.workspace.add_user(ADMIN, "Ada", "Admin", is_admin=True)
        served.workspace.populate(30, org_units=["/Staff"])
        yield served


def test_the_it_admin_connects_google_workspace_in_the_browser(
    page: Page,
    screenshots: Screenshots,
    database_url: str,
    google: FakeGoogle,
    tmp_path: Path,
) -> None:
    workspace = google.workspace
    key = workspace.service_account_key()
    key_file = tmp_path / "service-account.json"
    key_file.write_text(json.dumps(key))
    settings = {
        "SCIMGATE_GOOGLE_API_URL": google.url,
        "SCIMGATE_GOOGLE_TOKEN_URL": google.token_uri,
    }
    engine = open_engine(database_url)
    organization = tenants.create_organization(engine, f"Acme {secrets.token_hex(2)}")
    link = setup_links.create_link(engine, organization.id, valid_for=timedelta(days=1))
    with serving(database_url, tmp_path / "server.log", **settings) as url:
        page.goto(link.url(url))
        page.get_by_label("Google Workspace: we read your directory").check()
        page.get_by_role("button", name="Continue").click()
        expect(
            page.get_by_role("heading", name=re.compile("Connect Google Workspace"))
        ).to_be_visible()
        expect(page.locator("#delegation-scopes")).to_have_text(",".join(SCOPES))
        screenshots.take(page, "google setup page")

        page.get_by_label("An administrator's e-mail address").fill(ADMIN)
        page.get_by_label("Service account key (JSON file)").set_input_files(str(key_file))
        page.get_by_label("Only these organizational units").check()
        page.get_by_label(re.compile("Org unit paths")).fill("/Staff")
        # Delegation is not granted yet: Google refuses, and the page says what to do.
        page.get_by_role("button", name="Check with Google and connect").click()
        expect(page.get_by_role("alert")).to_contain_text("grant domain-wide delegation")
        expect(page.get_by_role("alert")).to_contain_text(key["client_id"])
        screenshots.take(page, "delegation missing")

        workspace.grant_delegation(key["client_id"], SCOPES)
        page.get_by_label("Service account key (JSON file)").set_input_files(str(key_file))
        page.get_by_role("button", name="Check with Google and connect").click()
        expect(page).to_have_url(f"{url}/setup/")
        expect(page.get_by_text("Google accepted the connection")).to_be_visible()

        directory = setup_links.open_link_view(engine, link.link.id).directory
        assert directory is not None
        google_settings = GoogleSettings(api_url=google.url, token_url=google.token_uri)
        report = google_directories.sync_here(engine, google_settings, directory.id)
        assert report.error is None and report.counts.users_created == 30
        # The status the page polls turns green with the counts.
        expect(page.get_by_text("Last synced")).to_be_visible(timeout=10_000)
        expect(page.locator("#setup-status")).to_contain_text("30")
        screenshots.take(page, "first sync shown")
    engine.dispose()
