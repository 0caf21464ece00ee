"""Google Workspace directories over the management API and the CLI, and on the portal."""

import json
import re
import secrets
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from conftest import ADMIN_TOKEN, LiveServer, serving
from portal_support import sign_in
from scimgate.cli.main import app as cli
from scimgate.config import GoogleSettings
from scimgate.service.administration import audit, google_directories, setup_links, tenants
from scimgate.service.directory_sync.google_api import SCOPES
from scimgate.simulator.google_workspace import FakeGoogle, serving_workspace
from scimgate.store.audit import AuditQuery
from scimgate.store.engine import open_engine

ADMIN = "admin@example.com"


@pytest.fixture(scope="module")
def google() -> Iterator[FakeGoogle]:
    with serving_workspace() as served:
        served.workspace.add_user(ADMIN, "Ada", "Admin", is_admin=True)
        served.workspace.populate(5, groups=1, members_per_group=3)
        yield served


OAUTH_CLIENT = ("scimgate-app.apps.googleusercontent.com", "GOCSPX-test-secret")


@pytest.fixture(scope="module")
def settings(google: FakeGoogle) -> dict[str, str]:
    return {
        "SCIMGATE_GOOGLE_API_URL": google.url,
        "SCIMGATE_GOOGLE_TOKEN_URL": google.token_uri,
        "SCIMGATE_GOOGLE_AUTH_URL": google.auth_uri,
        "SCIMGATE_GOOGLE_OAUTH_CLIENT_ID": OAUTH_CLIENT[0],
        "SCIMGATE_GOOGLE_OAUTH_CLIENT_SECRET": OAUTH_CLIENT[1],
        "SCIMGATE_GOOGLE_BACKOFF_SECONDS": "0.001",
    }


@pytest.fixture(scope="module")
def server(
    database_url: str,
    engine: Any,
    google: FakeGoogle,
    settings: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveServer]:
    log = tmp_path_factory.mktemp("google-server") / "server.log"
    with serving(database_url, log, **settings) as url:
        google.workspace.register_oauth_client(*OAUTH_CLIENT, [f"{url}/setup/google/callback"])
        yield LiveServer(url, engine)


@pytest.fixture
def api(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=f"{server.url}/api/v1",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=60,
    ) as client:
        yield client


def _key(google: FakeGoogle, *, delegated: bool = True) -> dict[str, str]:
    # A service account of its own: delegation is granted to an account, not to a key.
    account = f"sync-{secrets.token_hex(3)}@tests.iam.gserviceaccount.com"
    key = google.workspace.service_account_key(account)
    if delegated:
        google.workspace.grant_delegation(key["client_id"], SCOPES)
    return key


def _organization(server: LiveServer) -> str:
    return tenants.create_organization(server.engine, f"org {secrets.token_hex(3)}").id


def _create(api: httpx.Client, organization_id: str, **body: Any) -> httpx.Response:
    return api.post(
        f"/organizations/{organization_id}/google-directories",
        json={"name": "Google", "admin_email": ADMIN, **body},
    )


def test_a_google_directory_is_created_checked_and_synced_over_the_api(
    server: LiveServer, api: httpx.Client, google: FakeGoogle
) -> None:
    key = _key(google)
    created = _create(api, _organization(server), service_account_key=key)

    assert created.status_code == 201, created.text
    answer = created.json()
    directory_id = answer["directory"]["id"]
    assert answer["directory"]["kind"] == "google"
    assert answer["directory"]["scim_base_url"] is None
    connection = answer["google"]
    assert (connection["client_id"], connection["client_email"]) == (
        key["client_id"],
        key["client_email"],
    )
    assert connection["delegation_scopes"] == ",".join(SCOPES)
    assert "private_key" not in created.text and key["private_key_id"] not in created.text
    assert api.post(f"/directories/{directory_id}/google/check").json() == {"ok": True}
    due = api.post(f"/directories/{directory_id}/google/sync")
    assert due.status_code == 202
    # No SCIM credential for a directory nobody pushes to.
    token = api.post(f"/directories/{directory_id}/tokens", json={"name": "no"})
    assert token.status_code == 409 and "takes no SCIM token" in token.json()["detail"]

    changed = api.put(
        f"/directories/{directory_id}/google",
        json={
            "admin_email": ADMIN,
            "scope": {"kind": "org_units", "values": ["/Sales"]},
            "interval_minutes": 30,
        },
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["scope"] == {"kind": "org_units", "values": ["/Sales"]}
    assert changed.json()["client_id"] == key["client_id"], "the key it had is kept"


def test_what_google_refuses_is_said_in_words(
    server: LiveServer, api: httpx.Client, google: FakeGoogle
) -> None:
    key = _key(google, delegated=False)
    directory_id = _create(api, _organization(server), service_account_key=key).json()["directory"][
        "id"
    ]

    refused = api.post(f"/directories/{directory_id}/google/check")

    assert refused.status_code == 409
    assert "domain-wide delegation" in refused.json()["detail"]
    assert key["client_id"] in refused.json()["detail"]


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"service_account_key": {"type": "authorized_user"}}, "not a service account key"),
        ({"admin_email": "nobody"}, "admin_email"),
        ({"customer_id": "acme"}, "customer_id"),
        ({"scope": {"kind": "org_units", "values": ["Sales"]}}, "starting with '/'"),
        ({"scope": {"kind": "groups", "values": []}}, "at least one"),
        ({"service_account_key": None}, "service_account_key"),
        ({"interval_minutes": 0.5}, "interval_minutes"),
    ],
)
def test_a_connection_the_sync_could_not_use_is_refused_before_it_is_kept(
    server: LiveServer, api: httpx.Client, google: FakeGoogle, body: dict[str, Any], said: str
) -> None:
    defaults = {"service_account_key": _key(google)}
    refused = _create(api, _organization(server), **{**defaults, **body})

    assert refused.status_code in (400, 422), refused.text
    assert said in refused.json()["detail"], refused.json()["detail"]


def test_the_cli_creates_a_google_directory_and_syncs_it_here(
    server: LiveServer,
    database_url: str,
    google: FakeGoogle,
    settings: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps(_key(google)))
    organization_id = _organization(server)
    runner = CliRunner()

    created = runner.invoke(
        cli,
        [
            "google",
            "create",
            "From the CLI",
            "--org",
            organization_id,
            "--admin",
            ADMIN,
            "--key",
            str(key_file),
            "--database-url",
            database_url,
        ],
    )
    assert created.exit_code == 0, created.output
    directory_id = created.output.split("Directory:")[1].split()[0]

    synced = runner.invoke(
        cli, ["google", "sync", directory_id, "--here", "--database-url", database_url]
    )
    assert synced.exit_code == 0, synced.output
    assert "users created" in synced.output and "6" in synced.output
    status = runner.invoke(
        cli, ["google", "status", directory_id, "--json", "--database-url", database_url]
    )
    assert status.exit_code == 0, status.output
    assert json.loads(status.output)["last_counts"]["users_created"] == 6


def test_the_portal_shows_how_the_syncs_go_and_syncs_now(
    server: LiveServer, api: httpx.Client, google: FakeGoogle
) -> None:
    directory_id = _create(api, _organization(server), service_account_key=_key(google)).json()[
        "directory"
    ]["id"]
    portal = sign_in(server.url, ADMIN_TOKEN)

    page = portal.http.get(f"/admin/directories/{directory_id}")

    assert page.status_code == 200
    assert "Google Workspace sync" in page.text and ADMIN in page.text
    assert "SCIM tokens" not in page.text and "OAuth clients" not in page.text
    synced = portal.post(f"/admin/directories/{directory_id}/google/sync")
    assert synced.status_code == 303


def _refused_empty(server: LiveServer, api: httpx.Client, google: FakeGoogle) -> str:
    """A synced directory whose next sync found nobody in scope, and refused to empty it."""
    sync_settings = GoogleSettings(
        api_url=google.url, token_url=google.token_uri, backoff_seconds=0.001
    )
    created = _create(api, _organization(server), service_account_key=_key(google))
    directory_id = str(created.json()["directory"]["id"])
    assert google_directories.sync_here(server.engine, sync_settings, directory_id).error is None
    nowhere = {"kind": "org_units", "values": ["/Nowhere"]}
    moved = api.put(
        f"/directories/{directory_id}/google", json={"admin_email": ADMIN, "scope": nowhere}
    )
    assert moved.status_code == 200, moved.text
    refused = google_directories.sync_here(server.engine, sync_settings, directory_id)
    assert refused.status == 409, refused
    return directory_id


def test_an_emptying_refused_is_allowed_over_the_api(
    server: LiveServer, api: httpx.Client, google: FakeGoogle
) -> None:
    directory_id = _refused_empty(server, api, google)
    shown = api.get(f"/directories/{directory_id}/google").json()
    assert shown["empty_refused_at"] and shown["empty_allowed_at"] is None
    assert "allow-empty" in shown["last_error"]

    allowed = api.post(f"/directories/{directory_id}/google/allow-empty")

    assert allowed.status_code == 202, allowed.text
    assert allowed.json()["empty_allowed_at"] and allowed.json()["empty_refused_at"]
    pushed = tenants.create_directory(server.engine, _organization(server), "SCIM")
    refused = api.post(f"/directories/{pushed.directory.id}/google/allow-empty")
    assert refused.status_code == 409 and "not pulled" in refused.json()["detail"]


def test_an_emptying_refused_is_allowed_from_the_cli(
    server: LiveServer, api: httpx.Client, google: FakeGoogle, database_url: str
) -> None:
    directory_id = _refused_empty(server, api, google)
    runner = CliRunner()
    command = ["google", "allow-empty", directory_id, "--database-url", database_url]

    declined = runner.invoke(cli, command, input="n\n")

    assert declined.exit_code == 1, declined.output
    assert google_directories.connection_of(server.engine, directory_id).empty_allowed_at is None
    allowed = runner.invoke(cli, [*command, "--yes"])
    assert allowed.exit_code == 0, allowed.output
    assert "deprovisions everyone" in allowed.output
    status = runner.invoke(cli, ["google", "status", directory_id, "--database-url", database_url])
    assert "Emptying allowed" in status.output, status.output
    recorded = audit.entries(server.engine, AuditQuery(limit=1000)).entries
    done = [(entry.action, entry.target_id, entry.outcome) for entry in recorded]
    assert ("google.allow_empty", directory_id, "ok") in done


def test_an_emptying_refused_is_allowed_on_the_portal(
    server: LiveServer, api: httpx.Client, google: FakeGoogle
) -> None:
    directory_id = _refused_empty(server, api, google)
    portal = sign_in(server.url, ADMIN_TOKEN)
    page = portal.http.get(f"/admin/directories/{directory_id}")
    assert "Allow the next sync to deprovision everyone" in page.text

    unticked = portal.post(f"/admin/directories/{directory_id}/google/allow-empty")
    assert unticked.status_code == 400 and "Tick the box" in unticked.text
    assert google_directories.connection_of(server.engine, directory_id).empty_allowed_at is None
    ticked = portal.post(
        f"/admin/directories/{directory_id}/google/allow-empty", data={"confirm": "empty"}
    )

    assert ticked.status_code == 303
    page = portal.http.get(f"/admin/directories/{directory_id}")
    assert "the next sync deprovisions every user" in page.text
    assert "Allow the next sync to deprovision everyone" not in page.text


def test_the_google_pull_rehearsal_passes(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'rehearsal.db'}"
    answer = CliRunner().invoke(
        cli,
        [
            "simulate",
            "--idp",
            "google-pull",
            "--users",
            "60",
            "--groups",
            "2",
            "--database-url",
            database,
        ],
    )
    assert answer.exit_code == 0, answer.output
    assert "google-pull rehearsal passed" in answer.output
    for step in ("first sync", "leavers", "movers", "nothing changed"):
        assert step in answer.output
    # Named with the time it ran, as every output writes times: RFC 3339, in UTC.
    [directory] = tenants.list_directories(open_engine(database))
    assert re.fullmatch(
        r"Google Workspace rehearsal \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", directory.name
    )


SESSION_CSRF = re.compile(r'"X-CSRF-Token": "([^"]+)"')


def _setup_browser(server: LiveServer) -> tuple[httpx.Client, str]:
    """A browser that opened a new setup link and chose Google Workspace; the link's id."""
    organization_id = _organization(server)
    link = setup_links.create_link(server.engine, organization_id, valid_for=timedelta(days=1))
    browser = httpx.Client(base_url=server.url, timeout=30)
    assert browser.get(f"/setup/{link.secret}").status_code == 303
    chosen = browser.post(
        "/setup/directory", data={"csrf_token": _csrf(browser), "idp": "google-workspace"}
    )
    assert chosen.status_code == 303
    return browser, link.link.id


def _csrf(browser: httpx.Client) -> str:
    found = SESSION_CSRF.search(browser.get("/setup/").text)
    assert found is not None
    return found.group(1)


def _consent(browser: httpx.Client) -> httpx.Response:
    """Press "sign in with Google", consent at Google, and come back: the last answer."""
    started = browser.post(
        "/setup/google/consent",
        data={"csrf_token": _csrf(browser), "customer_id": "", "scope_kind": "all"},
    )
    assert started.status_code == 303, started.text
    at_google = httpx.get(started.headers["location"])
    assert at_google.status_code == 302, at_google.text
    back = at_google.headers["location"]
    assert back.startswith(str(browser.base_url)), back
    return browser.get(back.removeprefix(str(browser.base_url).rstrip("/")))


def test_an_administrator_signs_in_with_google_instead_of_a_service_account(
    server: LiveServer, api: httpx.Client, google: FakeGoogle
) -> None:
    google.workspace.consenting_user = ADMIN
    browser, link_id = _setup_browser(server)
    with closing(browser):
        assert "sign in with Google as an administrator" in browser.get("/setup/").text

        finished = _consent(browser)

        assert finished.status_code == 303, finished.text
        status = browser.get("/setup/google/status").text
        assert "Google accepted the connection" in status
        assert f"Read with the consent {ADMIN} gave" in browser.get("/setup/").text
    directory = setup_links.open_link_view(server.engine, link_id).directory
    assert directory is not None
    directory_id = directory.id
    connection = api.get(f"/directories/{directory_id}/google").json()
    assert (connection["admin_email"], connection["client_id"]) == (ADMIN, OAUTH_CLIENT[0])
    report = google_directories.sync_here(server.engine, _google_settings(google), directory_id)
    assert report.error is None and report.counts.users_created == 6

    # Access removed at Google: the next sync says so, in words.
    google.workspace.revoke_refresh_tokens()
    refused = google_directories.sync_here(server.engine, _google_settings(google), directory_id)
    assert refused.status == 401 and "signs in with Google again" in (refused.error or "")


def test_a_consent_refused_or_not_started_here_connects_nothing(
    server: LiveServer, google: FakeGoogle
) -> None:
    google.workspace.consenting_user = ADMIN
    browser, _ = _setup_browser(server)
    with closing(browser):
        google.workspace.deny_consent = True
        try:
            denied = _consent(browser)
        finally:
            google.workspace.deny_consent = False
        assert denied.status_code == 400 and "access_denied" in denied.text

        forged = browser.get("/setup/google/callback", params={"code": "x", "state": "guess"})
        assert forged.status_code == 400 and "did not start on this page" in forged.text
        assert "Not connected" in browser.get("/setup/google/status").text


def _google_settings(google: FakeGoogle) -> GoogleSettings:
    return GoogleSettings(
        api_url=google.url,
        token_url=google.token_uri,
        auth_url=google.auth_uri,
        oauth_client_id=OAUTH_CLIENT[0],
        oauth_client_secret=OAUTH_CLIENT[1],
    )
