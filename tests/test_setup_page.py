"""The IT admin's self-serve setup: a one-time link, the IdP, the token once, status and log."""

import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from conftest import DirectoryClient, LiveServer
from portal_support import oauth_token
from scim_payloads import user
from scimgate.admin.idp_guides import GUIDES, guide_for
from scimgate.scim.idp import IdpProfile
from scimgate.service.administration import audit, setup_links, tenants
from scimgate.service.administration.setup_links import IssuedLink
from scimgate.service.administration.tenants import TOKEN_PREFIX
from scimgate.service.operations import provisioning_log
from scimgate.store.audit import AuditQuery
from scimgate.store.ids import utcnow
from scimgate.store.tables.access import setup_links as setup_links_table
from scimgate.store.tenants import Organization

SETUP_COOKIE = "scimgate_setup"
TOKEN = re.compile(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_-]{40,}")
SESSION_CSRF = re.compile(r'"X-CSRF-Token": "([^"]+)"')


@dataclass
class SetupBrowser:
    """A browser that opened a setup link: cookies kept, redirects not followed."""

    http: httpx.Client

    def csrf_token(self) -> str:
        found = SESSION_CSRF.search(self.http.get("/setup/").text)
        assert found is not None and found.group(1), "the page carries the session's CSRF token"
        return found.group(1)

    def post(self, path: str, data: dict[str, str] | None = None) -> httpx.Response:
        return self.http.post(path, data={"csrf_token": self.csrf_token(), **(data or {})})


@dataclass
class Invitation:
    organization: Organization
    issued: IssuedLink

    @property
    def path(self) -> str:
        return f"/setup/{self.issued.secret}"


def invite(live_server: LiveServer, valid_for: timedelta = timedelta(days=1)) -> Invitation:
    organization = tenants.create_organization(live_server.engine, f"Acme {secrets.token_hex(3)}")
    issued = setup_links.create_link(live_server.engine, organization.id, valid_for=valid_for)
    return Invitation(organization, issued)


Browsers = Callable[[], httpx.Client]


@pytest.fixture
def browsers(live_server: LiveServer) -> Iterator[Browsers]:
    """Makes fresh browsers (cookie jars) of the live server; closes them after the test."""
    made: list[httpx.Client] = []

    def new() -> httpx.Client:
        client = httpx.Client(base_url=live_server.url, timeout=30)
        made.append(client)
        return client

    yield new
    for client in made:
        client.close()


def opened(browsers: Browsers, invitation: Invitation) -> SetupBrowser:
    http = browsers()
    answer = http.get(invitation.path)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/setup/"
    return SetupBrowser(http)


def connected(browsers: Browsers, invitation: Invitation, idp: str = "okta") -> SetupBrowser:
    browser = opened(browsers, invitation)
    chosen = browser.post("/setup/directory", {"idp": idp, "name": ""})
    assert chosen.status_code == 303, chosen.text
    assert chosen.headers["location"] == "/setup/"
    return browser


def reveal(browser: SetupBrowser) -> str:
    answer = browser.post("/setup/token")
    assert answer.status_code == 200, answer.text
    assert "it will not be shown again" in answer.text
    found = TOKEN.findall(answer.text)
    assert found, answer.text
    assert len(set(found)) == 1
    return found[0]


def only_directory(live_server: LiveServer, invitation: Invitation) -> str:
    _, directories = tenants.organization_with_directories(
        live_server.engine, invitation.organization.id
    )
    assert len(directories) == 1
    return directories[0].id


def scim_client(live_server: LiveServer, directory_id: str, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{live_server.url}/scim/v2/{directory_id}",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
        timeout=30,
    )


def logged_page(browser: SetupBrowser, needle: str) -> str:
    """The setup log page once it shows ``needle``: entries are written after the answer."""
    deadline = time.monotonic() + 10
    while True:
        page = browser.http.get("/setup/logs")
        assert page.status_code == 200, page.text
        if needle in page.text or time.monotonic() > deadline:
            return page.text
        time.sleep(0.05)


def status_page(browser: SetupBrowser, needle: str) -> str:
    """The setup status once it shows ``needle``: it counts log entries, written after the
    answer."""
    deadline = time.monotonic() + 10
    while True:
        page = browser.http.get("/setup/status")
        assert page.status_code == 200, page.text
        if needle in page.text or time.monotonic() > deadline:
            return page.text
        time.sleep(0.05)


def test_opening_the_link_binds_it_to_the_first_browser(
    live_server: LiveServer, browsers: Browsers
) -> None:
    invitation = invite(live_server)
    first = browsers()
    answer = first.get(invitation.path)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/setup/", "the secret leaves the address bar"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{SETUP_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "Path=/setup" in cookie
    assert invitation.issued.secret not in cookie

    other = browsers()
    refused = other.get(invitation.path)
    assert refused.status_code == 410
    assert "already been opened" in refused.text
    assert SETUP_COOKIE not in refused.cookies
    assert other.get("/setup/").status_code == 401, "the other browser got no session"

    again = first.get(invitation.path)
    assert again.status_code == 303, "the browser that opened it is let back in"
    assert again.headers["location"] == "/setup/"
    page = first.get("/setup/")
    assert page.status_code == 200
    assert "Connect your identity provider" in page.text
    assert invitation.organization.name in page.text
    assert re.search(r'href="/admin/(?!static/)', page.text) is None, "no way to admin pages"

    unknown = browsers().get(f"/setup/{setup_links.LINK_PREFIX}{secrets.token_hex(8)}")
    assert unknown.status_code == 404
    assert "not valid" in unknown.text


def test_choosing_the_idp_creates_the_directory_in_the_links_organization(
    live_server: LiveServer, browsers: Browsers
) -> None:
    invitation = invite(live_server)
    browser = opened(browsers, invitation)
    page = browser.http.get("/setup/").text
    for profile in ("entra", "okta", "google", "onelogin", "jumpcloud", "ping", "generic"):
        assert f'id="idp-{profile}"' in page
        assert f'for="idp-{profile}"' in page

    bad = browser.post("/setup/directory", {"idp": "myspace", "name": ""})
    assert bad.status_code == 400
    assert "Choose your identity provider" in bad.text

    chosen = browser.post("/setup/directory", {"idp": "entra", "name": ""})
    assert chosen.status_code == 303
    _, directories = tenants.organization_with_directories(
        live_server.engine, invitation.organization.id
    )
    assert [(d.idp, d.name) for d in directories] == [("entra", "Microsoft Entra ID provisioning")]

    page = browser.http.get("/setup/").text
    assert f"{live_server.url}/scim/v2/{directories[0].id}" in page
    assert "Tenant URL" in page
    assert "Secret Token" in page
    assert "Reveal the token" in page
    assert 'hx-get="/setup/status"' in page
    assert 'hx-trigger="load, every 3s" aria-live="polite"' in page
    assert TOKEN.search(page) is None

    again = browser.post("/setup/directory", {"idp": "okta", "name": "Another"})
    assert again.status_code == 303
    _, still = tenants.organization_with_directories(live_server.engine, invitation.organization.id)
    assert [d.id for d in still] == [directories[0].id], "a link sets up one directory"


def test_the_token_is_shown_once_and_opens_the_directory(
    live_server: LiveServer, browsers: Browsers
) -> None:
    invitation = invite(live_server)
    browser = connected(browsers, invitation)
    directory_id = only_directory(live_server, invitation)
    token = reveal(browser)

    with scim_client(live_server, directory_id, token) as scim:
        assert scim.get("/Users").status_code == 200

    reloaded = browser.http.get("/setup/")
    assert reloaded.status_code == 200
    assert token not in reloaded.text
    assert TOKEN.search(reloaded.text) is None
    assert "it is never shown again" in reloaded.text
    assert "Reveal the token" not in reloaded.text

    second = browser.post("/setup/token")
    assert second.status_code == 409
    assert TOKEN.search(second.text) is None
    assert "already shown" in second.text


def test_the_status_turns_green_with_the_first_request_and_shows_what_landed(
    live_server: LiveServer, browsers: Browsers
) -> None:
    invitation = invite(live_server)
    browser = connected(browsers, invitation, idp="okta")
    directory_id = only_directory(live_server, invitation)
    waiting = browser.http.get("/setup/status", headers={"HX-Request": "true"})
    assert waiting.status_code == 200
    assert "Waiting for the first request from Okta" in waiting.text
    assert "Connected" not in waiting.text

    token = reveal(browser)
    name = f"ada.{secrets.token_hex(3)}@acme.example"
    with scim_client(live_server, directory_id, token) as scim:
        created = scim.post("/Users", json=user(name, active=True))
        assert created.status_code == 201, created.text
        assert scim.post("/Users", json=user(name.upper())).status_code == 409
        group = scim.post(
            "/Groups",
            json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Ops"},
        )
        assert group.status_code == 201, group.text

    failures = 'href="/setup/logs?failed=true"'
    status = status_page(browser, failures)
    assert "Connected: first request from" in status
    assert "Waiting" not in status
    assert name in status
    assert "Ops" in status
    assert failures in status, "the 409 counts as a failure"


def test_the_log_shows_only_the_links_own_directory(
    live_server: LiveServer, browsers: Browsers, scim: DirectoryClient
) -> None:
    invitation = invite(live_server)
    browser = connected(browsers, invitation)
    directory_id = only_directory(live_server, invitation)
    token = reveal(browser)
    name = f"grace.{secrets.token_hex(3)}@acme.example"
    with scim_client(live_server, directory_id, token) as client:
        assert client.post("/Users", json=user(name)).status_code == 201
        assert client.post("/Users", json=user(name)).status_code == 409

    page = logged_page(browser, "409")
    # Should the page miss them, tell whether the server wrote the entries at all.
    written = provisioning_log.search(live_server.engine, directory_id).entries
    held = [f"{entry.method} {entry.path} {entry.status}" for entry in written]
    assert "POST /Users" in page, f"the page shows no request; the database holds {held}"
    assert name in page
    failures = browser.http.get("/setup/logs", params={"failed": "true"}).text
    assert "409" in failures
    assert "201 ok" not in failures

    own = provisioning_log.search(live_server.engine, directory_id, status="409").entries
    assert len(own) == 1
    detail = browser.http.get(f"/setup/logs/{own[0].id}")
    assert detail.status_code == 200
    assert "What went wrong" in detail.text
    assert name in detail.text

    stranger = f"stranger.{secrets.token_hex(3)}@other.example"
    assert scim.http.post("/Users", json=user(stranger)).status_code == 201
    deadline = time.monotonic() + 10
    theirs = provisioning_log.search(live_server.engine, scim.directory_id).entries
    while not theirs and time.monotonic() < deadline:
        time.sleep(0.05)
        theirs = provisioning_log.search(live_server.engine, scim.directory_id).entries
    assert theirs, "the other organization's request was logged"
    foreign = browser.http.get(f"/setup/logs/{theirs[0].id}")
    assert foreign.status_code == 404
    assert stranger not in foreign.text
    assert stranger not in browser.http.get("/setup/logs", params={"before": theirs[0].id}).text


def test_a_link_made_for_a_directory_goes_straight_to_its_instructions(
    live_server: LiveServer, browsers: Browsers
) -> None:
    organization = tenants.create_organization(live_server.engine, f"Acme {secrets.token_hex(3)}")
    existing = tenants.create_directory(
        live_server.engine, organization.id, "Acme staff", IdpProfile.onelogin
    ).directory
    issued = setup_links.create_link(live_server.engine, organization.id, directory_id=existing.id)
    browser = opened(browsers, Invitation(organization, issued))
    page = browser.http.get("/setup/").text
    assert "Connect OneLogin to" in page
    assert f"/scim/v2/{existing.id}" in page
    assert "SCIM Bearer Token" in page
    assert 'name="idp"' not in page


def test_changes_need_the_sessions_csrf_token(live_server: LiveServer, browsers: Browsers) -> None:
    invitation = invite(live_server)
    browser = opened(browsers, invitation)
    forged = browser.http.post("/setup/directory", data={"idp": "okta"})
    assert forged.status_code == 403
    wrong = browser.http.post("/setup/directory", data={"idp": "okta", "csrf_token": "forged"})
    assert wrong.status_code == 403
    _, directories = tenants.organization_with_directories(
        live_server.engine, invitation.organization.id
    )
    assert directories == []


def test_a_revoked_link_closes_its_pages(live_server: LiveServer, browsers: Browsers) -> None:
    invitation = invite(live_server)
    browser = connected(browsers, invitation)
    assert browser.http.get("/setup/").status_code == 200
    setup_links.revoke_link(live_server.engine, invitation.issued.link.id)
    for path in ("/setup/", "/setup/status", "/setup/logs"):
        answer = browser.http.get(path)
        assert answer.status_code == 410, path
        assert "revoked" in answer.text
    assert browser.http.get(invitation.path).headers["location"] == "/setup/"
    refused = browsers().get(invitation.path)
    assert refused.status_code == 410
    assert "revoked" in refused.text


def test_an_expired_link_opens_nothing(live_server: LiveServer, browsers: Browsers) -> None:
    used = invite(live_server)
    unused = invite(live_server)
    browser = opened(browsers, used)
    assert browser.http.get("/setup/").status_code == 200
    for invitation in (used, unused):  # both links' time runs out
        with live_server.engine.begin() as conn:
            conn.execute(
                update(setup_links_table)
                .where(setup_links_table.c.id == invitation.issued.link.id)
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
    refused = browsers().get(unused.path)
    assert refused.status_code == 410
    assert "expired" in refused.text
    assert SETUP_COOKIE not in refused.cookies
    assert browser.http.get("/setup/").status_code in (401, 410)


def test_the_setup_is_audited(live_server: LiveServer, browsers: Browsers) -> None:
    invitation = invite(live_server)
    browser = connected(browsers, invitation)
    reveal(browser)
    assert browser.post("/setup/token").status_code == 409
    actor = f"setup-link {invitation.issued.link.id}"
    entries = audit.entries(live_server.engine, AuditQuery(actor=actor, limit=50)).entries
    actions = sorted((entry.action, entry.outcome) for entry in entries)
    assert ("portal POST /setup/directory", "ok") in actions
    assert ("portal POST /setup/token", "ok") in actions
    assert ("portal POST /setup/token", "refused") in actions, "the second reveal"
    assert ("portal setup-link open", "ok") in actions
    assert {entry.organization_id for entry in entries} == {invitation.organization.id}


def test_every_idp_has_a_guide_that_names_where_the_values_go() -> None:
    assert set(GUIDES) == set(IdpProfile)
    for guide in GUIDES.values():
        assert guide.steps
        text = " ".join(part for step in guide.steps for part in (step.title, *step.details))
        assert "SCIM base URL" in text, guide.idp
        assert "token" in text, guide.idp
        assert "one user" in text, guide.idp
    assert guide_for("nonsense").idp == IdpProfile.generic
    assert guide_for(None).idp == IdpProfile.generic


OAUTH_SHOWN = re.compile(
    r'id="(oauth-endpoint|oauth-client-id|oauth-client-secret)"[^>]*value="([^"]+)"'
)


def _oauth_credentials(browser: SetupBrowser) -> dict[str, str]:
    answer = browser.post("/setup/oauth-client")
    assert answer.status_code == 200, answer.text
    assert "it will not be shown again" in answer.text
    shown = dict(OAUTH_SHOWN.findall(answer.text))
    assert set(shown) == {"oauth-endpoint", "oauth-client-id", "oauth-client-secret"}, shown
    return shown


def test_the_it_admin_can_take_oauth_client_credentials_instead_of_the_token(
    live_server: LiveServer, browsers: Browsers
) -> None:
    """For an IdP that can use them (Entra here), the page shows a client id and secret once;
    they obtain access tokens; asking again gives a new secret and stops the old one."""
    invitation = invite(live_server)
    browser = connected(browsers, invitation, "entra")
    page = browser.http.get("/setup/").text
    assert "OAuth 2.0 client credentials" in page and "oauth-client-secret" not in page
    first = _oauth_credentials(browser)
    assert first["oauth-endpoint"] == f"{live_server.url}/oauth/token"
    token = oauth_token(first)
    assert token.status_code == 200, token.text
    directory_id = only_directory(live_server, invitation)
    listed = httpx.get(
        f"{live_server.url}/scim/v2/{directory_id}/Users",
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        timeout=30,
    )
    assert listed.status_code == 200, listed.text
    assert "oauth-client-secret" not in browser.http.get("/setup/").text, "shown once"
    second = _oauth_credentials(browser)
    assert second["oauth-client-id"] == first["oauth-client-id"], "one client per link"
    assert second["oauth-client-secret"] != first["oauth-client-secret"]
    assert oauth_token(first).json()["error"] == "invalid_client"
    assert oauth_token(second).status_code == 200


def test_okta_is_not_offered_oauth_client_credentials(
    live_server: LiveServer, browsers: Browsers
) -> None:
    """Okta's documented OAuth option for SCIM apps is the authorization-code grant, not client
    credentials: the page does not offer what Okta cannot use."""
    browser = connected(browsers, invite(live_server), "okta")
    assert "OAuth 2.0 client credentials" not in browser.http.get("/setup/").text
