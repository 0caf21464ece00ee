"""The portal in a real browser: the SaaS team and a customer's IT admin, end to end.

Debian's Chromium, headless, driven by Playwright against a live server. The
walk: sign in, create an organization and a directory, create a setup link,
open it as the IT admin, reveal the token once, drive a provisioning run with
that token, watch the directory turn healthy on both sides, read a failed
request's diagnosis, and retry then replay a failed webhook delivery.
Screenshots of each step are saved under ``artifacts/screenshots``.
"""

import re
import secrets
import threading

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from browser_support import Screenshots
from conftest import ADMIN_TOKEN, LiveServer
from scim_payloads import group, patch, user
from scimgate.service.administration import tenants
from scimgate.service.event_stream import safety
from scimgate.service.operations import provisioning_log
from scimgate.store.engine import is_sqlite
from webhook_support import Endpoints, Receiver, Reply, wait_until, worker_thread

OKTA = {"User-Agent": "Okta SCIM Client 1.0.0", "Content-Type": "application/scim+json"}
PEOPLE = [f"person{index}@acme.example" for index in range(12)]
LONG_BACKOFF = (600.0, 600.0)
"""After a failed attempt the next is ten minutes away: the operator retries it by hand."""


def _sign_in(page: Page, url: str) -> None:
    page.goto(f"{url}/admin/")
    expect(page).to_have_url(re.compile(r"/admin/sign-in"))
    page.get_by_label("Admin key").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def _provision(base_url: str, token: str) -> None:
    """What Okta does at a first sync: a lookup before each create, then groups with members."""
    with httpx.Client(
        base_url=base_url, headers={**OKTA, "Authorization": f"Bearer {token}"}
    ) as okta:
        ids = []
        for name in PEOPLE:
            found = okta.get("/Users", params={"filter": f'userName eq "{name}"'})
            assert found.json()["totalResults"] == 0
            created = okta.post("/Users", json=user(name, active=True))
            assert created.status_code == 201
            ids.append(created.json()["id"])
        assert okta.post("/Groups", json=group("Engineering", ids[:8])).status_code == 201
        assert okta.post("/Groups", json=group("Sales", ids[8:])).status_code == 201
        # Someone else already holds this userName: one failed request among many.
        assert okta.post("/Users", json=user(PEOPLE[0].upper())).status_code == 409


def test_the_saas_team_and_the_it_admin_set_up_a_directory(
    browser: Browser,
    page: Page,
    screenshots: Screenshots,
    live_server: LiveServer,
    database_url: str,
    endpoints: Endpoints,
    receiver: Receiver,
) -> None:
    url = live_server.url
    company = f"Acme Corp {secrets.token_hex(2)}"

    # The SaaS team signs in and creates the customer's organization and directory.
    _sign_in(page, url)
    screenshots.take(page, "dashboard before")
    page.get_by_label("Name").fill(company)
    page.get_by_role("button", name="Create organization").click()
    expect(page.get_by_role("heading", name=company)).to_be_visible()
    page.get_by_label("Name").fill("Okta production")
    page.get_by_label("Identity provider").select_option("okta")
    page.get_by_role("button", name="Create directory").click()
    expect(page.get_by_role("heading", name=re.compile("created"))).to_be_visible()
    scim_base_url = page.get_by_label("SCIM base URL").input_value()
    directory_id = scim_base_url.rsplit("/", 1)[1]
    first_token = page.locator("#scim-token").input_value()
    assert first_token.startswith("scimgate_")
    screenshots.take(page, "directory created")

    # ...and a setup link for the customer's IT admin.
    page.go_back()
    page.reload()
    page.get_by_label("Directory", exact=True).select_option(directory_id)
    page.get_by_role("button", name="Create setup link").click()
    link = page.get_by_label("Setup link").input_value()
    assert "/setup/scimgate_setup_" in link
    screenshots.take(page, "setup link created")

    # The IT admin opens the link in their own browser and reveals the token, once.
    it_admin = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    it_admin.goto(link)
    expect(it_admin).to_have_url(f"{url}/setup/")
    expect(it_admin.get_by_role("heading", name=re.compile("Connect Okta"))).to_be_visible()
    expect(it_admin.get_by_text("Waiting for the first request")).to_be_visible()
    it_admin.get_by_role("button", name="Reveal the token").click()
    token = it_admin.get_by_label("Your token").input_value()
    assert token.startswith("scimgate_") and token != first_token
    screenshots.take(it_admin, "token revealed once")
    it_admin.reload()
    expect(it_admin.get_by_text("never shown again").first).to_be_visible()
    assert token not in it_admin.content()
    expect(it_admin.get_by_role("button", name="Reveal the token")).to_have_count(0)
    screenshots.take(it_admin, "token not shown after a reload")

    # Okta provisions with the revealed token; the IT admin's status turns green.
    _provision(scim_base_url, token)
    status = it_admin.locator("#setup-status")
    expect(status.get_by_text("Connected", exact=True)).to_be_visible(timeout=20_000)
    expect(status).to_contain_text(PEOPLE[-1])
    expect(status).to_contain_text("Engineering")
    screenshots.take(it_admin, "connected with the first users and groups")
    it_admin.goto(f"{url}/setup/logs?failed=true")
    it_admin.get_by_role("link", name=re.compile(r"UTC")).first.click()
    expect(it_admin.get_by_text("already belongs to").first).to_be_visible()
    screenshots.take(it_admin, "the IT admin reads why a request failed")
    it_admin.context.close()

    # The SaaS team sees the directory healthy, its users and groups, and the failure explained.
    page.goto(f"{url}/admin/")
    page.get_by_label("Find an organization").fill(company)
    page.get_by_role("button", name="Find").click()
    organization = page.locator("section.card", has=page.get_by_role("heading", name=company))
    expect(organization).to_contain_text("Okta production")
    expect(organization).to_contain_text("Healthy")
    expect(organization).to_contain_text("1 of 27")
    screenshots.take(page, "dashboard healthy")
    page.goto(f"{url}/admin/directories/{directory_id}/users")
    page.get_by_label(re.compile("^Search")).fill("person11")
    expect(page.get_by_role("link", name=PEOPLE[11])).to_be_visible()
    expect(page.get_by_role("link", name=PEOPLE[1])).to_have_count(0)
    screenshots.take(page, "users searched")
    page.get_by_role("link", name=PEOPLE[11]).click()
    expect(page.get_by_text("user.created").first).to_be_visible()
    screenshots.take(page, "a user and their history")
    page.goto(f"{url}/admin/directories/{directory_id}/groups")
    expect(page.get_by_role("link", name="Engineering")).to_be_visible()
    page.goto(f"{url}/admin/directories/{directory_id}/logs")
    page.get_by_label("Status").select_option("failures")
    page.get_by_role("button", name="Filter").click()
    page.locator("tbody tr").first.get_by_role("link").first.click()
    expect(page.get_by_text("already belongs to").first).to_be_visible()
    screenshots.take(page, "a failed request diagnosed")

    # A webhook endpoint that fails: the operator sees the attempt, retries it, replays it.
    healthy = threading.Event()
    receiver.plan = lambda _: Reply(200) if healthy.is_set() else Reply(503, body="maintenance")
    page.goto(f"{url}/admin/webhooks")
    page.get_by_label("URL").fill(receiver.url("/acme"))
    page.get_by_label("Organization").select_option(label=company)
    page.get_by_label("Event types").fill("user.created")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("heading", name="Endpoint registered")).to_be_visible()
    [endpoint] = [
        each
        for each in endpoints.admin.get("/webhooks").json()["data"]
        if each["url"] == receiver.url("/acme")
    ]
    with worker_thread(database_url, schedule=LONG_BACKOFF):
        with httpx.Client(
            base_url=scim_base_url, headers={**OKTA, "Authorization": f"Bearer {token}"}
        ) as okta:
            assert okta.post("/Users", json=user("late.joiner@acme.example")).status_code == 201
        wait_until(lambda: bool(receiver.received("/acme")), "the first attempt fails")
        wait_until(
            lambda: endpoints.deliveries(endpoint["id"])[0]["attempts"] == 1, "it is counted"
        )
        page.goto(f"{url}/admin/webhooks/{endpoint['id']}")
        deliveries = page.get_by_role("table", name="Deliveries, newest event first")
        expect(deliveries.get_by_text("failing", exact=True)).to_be_visible()
        # The endpoint is enabled, and its state says it fails.
        expect(page.locator("dl").get_by_text("failing", exact=True)).to_be_visible()
        page.get_by_role("link", name=re.compile("^Attempts of user.created")).click()
        expect(page.get_by_text("503").first).to_be_visible()
        screenshots.take(page, "a failing delivery and its attempt")
        healthy.set()
        page.get_by_role("button", name=re.compile("^Retry delivery of user.created")).click()
        expect(page.get_by_text("due now")).to_be_visible()
        wait_until(lambda: endpoints.all_delivered(endpoint["id"], 1), "the retry is delivered")
        page.reload()
        page.get_by_role("button", name=re.compile("^Replay delivery of user.created")).click()
        expect(page.get_by_text("queued again")).to_be_visible()
        wait_until(lambda: endpoints.all_delivered(endpoint["id"], 2), "the replay is delivered")
        screenshots.take(page, "a delivery replayed")
    received = receiver.received("/acme")
    assert len(received) == 3
    assert {each.webhook_id for each in received} == {endpoint_event(endpoints, endpoint["id"])}


def endpoint_event(endpoints: Endpoints, endpoint_id: str) -> str:
    """The one event the endpoint was sent (every delivery of it carries its id)."""
    ids = {each["event_id"] for each in endpoints.deliveries(endpoint_id)}
    assert len(ids) == 1
    return ids.pop()


PHONE = {"width": 390, "height": 844}
_WIDER_THAN_THE_SCREEN = """Array.from(document.querySelectorAll("body *"))
  .filter((e) => (e.getBoundingClientRect().right > document.documentElement.clientWidth + 1
      || e.scrollWidth > e.clientWidth + 1)
    && !(e.parentElement && e.parentElement.closest(".table-wrap, pre")))
  .slice(0, 8)
  .map((e) => e.tagName + "." + e.className + " " + Math.round(e.getBoundingClientRect().right)
    + "/" + e.scrollWidth)"""
"""The first elements that reach past the screen's edge (outside a table's own frame)."""


def _layout_once(database_url: str) -> None:
    """A page's layout and scripts are the same whichever database holds what it shows:
    they are checked on SQLite (the walk above runs on both)."""
    if not is_sqlite(database_url):
        pytest.skip("the same page on either database: its layout is checked on SQLite")


def test_every_admin_page_fits_a_phone(
    browser: Browser,
    screenshots: Screenshots,
    live_server: LiveServer,
    database_url: str,
    endpoints: Endpoints,
) -> None:
    """At 390 px no admin page scrolls sideways: tables scroll inside their card."""
    _layout_once(database_url)
    organization = tenants.create_organization(live_server.engine, "A rather long company name")
    created = tenants.create_directory(live_server.engine, organization.id, "Okta production")
    directory_id = created.directory.id
    base_url = f"{live_server.url}/scim/v2/{directory_id}"
    # Its safety valve trips on the second leaver, so its page shows the held events too.
    safety.configure(live_server.engine, directory_id, max_count=1, max_percent=0)
    with httpx.Client(
        base_url=base_url, headers={**OKTA, "Authorization": f"Bearer {created.token.secret}"}
    ) as okta:
        ids = [okta.post("/Users", json=user(name)).json()["id"] for name in PEOPLE[:4]]
        group_id = okta.post("/Groups", json=group("Engineering", ids)).json()["id"]
        for leaver in ids[2:]:
            off = {"op": "replace", "path": "active", "value": False}
            assert okta.patch(f"/Users/{leaver}", json=patch(off)).status_code == 200
    endpoint = endpoints.register(
        "http://127.0.0.1:9/a/rather/long/path/of/a/webhook/receiver",
        organization_id=organization.id,
    )
    wait_until(
        lambda: bool(provisioning_log.search(live_server.engine, directory_id).entries),
        "the requests are logged",
    )
    entry = provisioning_log.search(live_server.engine, directory_id).entries[0]
    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        _sign_in(page, live_server.url)
        directory = f"/admin/directories/{directory_id}"
        for name, path in (
            ("dashboard", "/admin/"),
            ("organization", f"/admin/organizations/{organization.id}"),
            ("directory", directory),
            ("users", f"{directory}/users"),
            ("user", f"{directory}/users/{ids[0]}"),
            ("groups", f"{directory}/groups"),
            ("group", f"{directory}/groups/{group_id}"),
            ("log", f"{directory}/logs"),
            ("log entry", f"{directory}/logs/{entry.id}"),
            ("mappings", f"{directory}/mappings"),
            ("webhooks", "/admin/webhooks"),
            ("endpoint", f"/admin/webhooks/{endpoint['id']}"),
            ("unknown page", "/admin/no-such-page"),
        ):
            page.goto(f"{live_server.url}{path}")
            wide = page.evaluate("document.documentElement.scrollWidth")
            screenshots.take(page, f"phone {name}")
            wider = page.evaluate(_WIDER_THAN_THE_SCREEN)
            assert wide <= PHONE["width"], f"{path} is {wide} px wide: {wider}"
            if name != "unknown page":  # answered before any session is read
                expect(page.get_by_role("button", name="Sign out")).to_be_in_viewport()
    finally:
        context.close()


def test_a_held_directory_is_reviewed_and_released_in_the_browser(
    page: Page, screenshots: Screenshots, live_server: LiveServer, database_url: str
) -> None:
    """Release is also checked over HTTP on both databases (``test_portal_pages.py``)."""
    _layout_once(database_url)
    organization = tenants.create_organization(live_server.engine, "Held Inc")
    created = tenants.create_directory(live_server.engine, organization.id, "Entra")
    directory_id = created.directory.id
    safety.configure(live_server.engine, directory_id, max_count=1, max_percent=0)
    with httpx.Client(
        base_url=f"{live_server.url}/scim/v2/{directory_id}",
        headers={**OKTA, "Authorization": f"Bearer {created.token.secret}"},
    ) as okta:
        for name in PEOPLE[:3]:
            user_id = okta.post("/Users", json=user(name)).json()["id"]
            off = {"op": "replace", "path": "active", "value": False}
            assert okta.patch(f"/Users/{user_id}", json=patch(off)).status_code == 200
    _sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/admin/directories/{directory_id}")
    held = page.get_by_role("region", name="Held events")
    expect(held).to_be_visible()
    expect(held.get_by_text(PEOPLE[2])).to_be_visible()
    screenshots.take(page, "held events to review")
    page.get_by_role("button", name=re.compile("^Release")).click()
    expect(page.get_by_role("heading", name="Held events")).to_have_count(0)
    expect(page.locator("dd").get_by_text("Live", exact=True)).to_be_visible()
    screenshots.take(page, "released")
