"""The portal's dashboard, organization and directory pages, driven over HTTP like a browser."""

import html
import re
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx

from conftest import DirectoryClient, LiveServer, new_directory
from event_support import last_seq, published
from portal_support import Portal, oauth_token, sign_in
from scim_payloads import group, patch, user
from scimgate.admin.web import clock
from scimgate.service.administration import admin_keys
from scimgate.service.administration import tenants as tenant_service
from scimgate.service.event_stream import safety
from scimgate.store import tenants
from scimgate.store.ids import utcnow
from scimgate.store.transactions import writing

_TAG = re.compile(r"<[^>]+>")
_TOKEN_FIELD = re.compile(r'id="scim-token" readonly value="([^"]+)"')
_BASE_URL_FIELD = re.compile(r'id="scim-base-url" readonly value="([^"]+)"')
_LINK_FIELD = re.compile(r'id="setup-link" readonly value="([^"]+)"')
_SCIM_HEADERS = {"Content-Type": "application/scim+json"}


def _text(fragment: str) -> str:
    """What a reader sees of some HTML: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(_TAG.sub(" ", fragment)).split())


def row_cells(page: str, directory_id: str) -> list[str]:
    """The cells of the health table row that links to a directory, as text."""
    rows = [row for row in page.split("<tr>") if f'href="/admin/directories/{directory_id}"' in row]
    assert len(rows) == 1, page
    cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", rows[0].split("</tr>")[0], re.S)
    return [_text(cell) for cell in cells]


HEALTH, IDP, LAST_REQUEST, ERRORS, USERS, GROUPS, BACKLOG, DELIVERY = range(1, 9)
"""Columns of the health table (column 0 is the directory's name)."""


def eventually(read: Callable[[], list[str]], done: Callable[[list[str]], bool]) -> list[str]:
    """Read until ``done`` holds or ten seconds pass (the provisioning log is written after
    the answer is sent); returns the last reading for the caller to assert on."""
    deadline = time.monotonic() + 10
    while True:
        found = read()
        if done(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def create_organization(portal: Portal, name: str | None = None) -> str:
    answer = portal.post("/admin/organizations", {"name": name or f"Org {secrets.token_hex(4)}"})
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith("/admin/organizations/")
    return location.rsplit("/", 1)[1]


def create_directory(
    portal: Portal, organization_id: str, **fields: str
) -> tuple[str, str, str, str]:
    """A directory made with the portal's form: its id, SCIM base URL, token and the page."""
    answer = portal.post(
        f"/admin/organizations/{organization_id}/directories",
        {"name": f"Dir {secrets.token_hex(3)}", "idp": "okta", **fields},
    )
    assert answer.status_code == 201, answer.text
    token = _TOKEN_FIELD.search(answer.text)
    base_url = _BASE_URL_FIELD.search(answer.text)
    assert token is not None and base_url is not None, answer.text
    directory_id = base_url.group(1).rsplit("/", 1)[1]
    return directory_id, base_url.group(1), html.unescape(token.group(1)), answer.text


def scim_client(base_url: str, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}", **_SCIM_HEADERS},
        timeout=30,
    )


def test_the_dashboard_follows_a_new_directory_from_waiting_to_healthy_to_errors(
    portal: Portal,
) -> None:
    organization_name = f"Acme {secrets.token_hex(4)}"
    organization_id = create_organization(portal, organization_name)
    directory_id, base_url, token, _ = create_directory(portal, organization_id)

    dashboard = portal.get("/admin/", params={"q": organization_name})
    assert dashboard.status_code == 200
    assert organization_name in dashboard.text
    waiting = row_cells(dashboard.text, directory_id)
    assert waiting[HEALTH] == "Waiting for first request"
    assert waiting[LAST_REQUEST] == "never"
    assert waiting[ERRORS] == "no requests"
    assert (waiting[USERS], waiting[GROUPS], waiting[BACKLOG]) == ("0", "0", "0")
    assert waiting[DELIVERY] == "Live"

    with scim_client(base_url, token) as scim:
        ids = []
        for name in ("ann@acme.com", "ben@acme.com"):
            created = scim.post("/Users", json=user(name))
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
        assert scim.post("/Groups", json=group("Staff", ids)).status_code == 201

        def healthy(cells: list[str]) -> bool:
            return cells[HEALTH] == "Healthy" and "(0 of 3)" in cells[ERRORS]

        cells = eventually(
            lambda: row_cells(
                portal.get("/admin/", params={"q": organization_name}).text, directory_id
            ),
            healthy,
        )
        assert cells[HEALTH] == "Healthy", cells
        assert cells[ERRORS] == "0.0 % (0 of 3)"
        assert (cells[USERS], cells[GROUPS]) == ("2", "1")
        assert cells[LAST_REQUEST] != "never"

        # A duplicate userName is refused: one failure in four requests is 25 %.
        assert scim.post("/Users", json=user("ANN@acme.com")).status_code == 409
        cells = eventually(
            lambda: row_cells(
                portal.get("/admin/", params={"q": organization_name}).text, directory_id
            ),
            lambda found: "(1 of 4)" in found[ERRORS],
        )
    assert cells[ERRORS] == "25.0 % (1 of 4)"
    assert cells[HEALTH] == "Errors"

    # The organization page shows the same measures for its own directories.
    organization = portal.get(f"/admin/organizations/{organization_id}")
    assert organization.status_code == 200
    assert row_cells(organization.text, directory_id)[ERRORS] == "25.0 % (1 of 4)"


def test_held_and_idle_directories_say_so(portal: Portal, live_server: LiveServer) -> None:
    organization_id = create_organization(portal)
    dry_run, base_url, token, _ = create_directory(portal, organization_id, dry_run="on")
    idle, *_ = create_directory(portal, organization_id)
    with scim_client(base_url, token) as scim:
        assert scim.post("/Users", json=user("held@acme.com")).status_code == 201
    # Activated two days ago, and not heard of since.
    with writing(live_server.engine) as conn:
        tenants.update_directory(conn, idle, activated_at=utcnow() - timedelta(days=2))

    page = portal.get(f"/admin/organizations/{organization_id}").text
    held = row_cells(page, dry_run)
    assert held[HEALTH] == "Events held"
    assert held[DELIVERY] == "Review: dry run"
    assert row_cells(page, idle)[HEALTH] == "Idle"


def _tripped_valve(portal: Portal, live_server: LiveServer) -> tuple[str, list[str]]:
    """A directory whose safety valve tripped on its second deactivation; its user names."""
    organization_id = create_organization(portal)
    directory_id, base_url, token, _ = create_directory(portal, organization_id)
    safety.configure(live_server.engine, directory_id, max_count=1, max_percent=0)
    names = [f"leaver{n}-{secrets.token_hex(3)}@acme.com" for n in range(3)]
    with scim_client(base_url, token) as scim:
        ids = [scim.post("/Users", json=user(name)).json()["id"] for name in names]
        for user_id in ids:
            off = patch({"op": "replace", "path": "active", "value": False})
            assert scim.patch(f"/Users/{user_id}", json=off).status_code == 200
    return directory_id, names


def test_a_held_directory_is_reviewed_and_released_in_the_portal(
    portal: Portal, live_server: LiveServer
) -> None:
    directory_id, names = _tripped_valve(portal, live_server)
    page = portal.get(f"/admin/directories/{directory_id}")
    text = _text(page.text)
    assert "Held events" in text and "the safety valve tripped" in text, text
    assert re.search(r"user\.deactivated\s*:\s*2\b", text)  # the 2nd and 3rd; the 1st went out
    assert "2 deprovisionings held" in text
    for name in names[1:]:
        assert name in text
    assert names[0] not in text.split("Who would lose access")[1].split("Connection")[0]
    before = last_seq(live_server.engine)
    released = portal.post(f"/admin/directories/{directory_id}/held/release")
    assert released.status_code == 303
    sent = published(live_server.engine, directory_id, before)
    assert [each.type for each in sent].count("user.deactivated") == 2
    after = _text(portal.get(f"/admin/directories/{directory_id}").text)
    assert "Held events" not in after and "Live" in after


def test_discarding_held_events_asks_for_a_confirmation(
    portal: Portal, live_server: LiveServer
) -> None:
    directory_id, _ = _tripped_valve(portal, live_server)
    unconfirmed = portal.post(f"/admin/directories/{directory_id}/held/discard")
    assert unconfirmed.status_code == 400
    assert "Tick the box" in _text(unconfirmed.text)
    assert "Held events" in portal.get(f"/admin/directories/{directory_id}").text
    before = last_seq(live_server.engine)
    discarded = portal.post(
        f"/admin/directories/{directory_id}/held/discard", {"confirm": "discard"}
    )
    assert discarded.status_code == 303
    sent = published(live_server.engine, directory_id, before)
    assert "user.deactivated" not in [each.type for each in sent]
    assert "Held events" not in portal.get(f"/admin/directories/{directory_id}").text


def test_a_token_is_shown_once_and_a_rotated_one_replaces_it_when_revoked(
    portal: Portal,
) -> None:
    organization_id = create_organization(portal)
    directory_id, base_url, first, created_page = create_directory(portal, organization_id)
    assert first.startswith("scimgate_")
    assert "shown on this page only" in created_page

    rotated = portal.post(f"/admin/directories/{directory_id}/tokens/rotate", {"name": "second"})
    assert rotated.status_code == 201, rotated.text
    found = _TOKEN_FIELD.search(rotated.text)
    assert found is not None
    second = html.unescape(found.group(1))
    assert second != first
    assert "revoke the old token" in rotated.text

    overview = portal.get(f"/admin/directories/{directory_id}")
    assert overview.status_code == 200
    assert base_url in overview.text
    revokes = re.findall(
        rf'action="(/admin/directories/{directory_id}/tokens/[^/"]+/revoke)"', overview.text
    )
    assert len(revokes) == 2

    # Rotation changes nothing else: the old token works until it is revoked.
    with scim_client(base_url, first) as old, scim_client(base_url, second) as new:
        assert old.get("/Users").status_code == 200
        assert new.get("/Users").status_code == 200
        assert portal.post(revokes[0]).status_code == 303
        assert old.get("/Users").status_code == 401
        assert new.get("/Users").status_code == 200
    assert portal.post(revokes[0]).status_code == 404

    later = [
        portal.get(path).text
        for path in (
            "/admin/",
            f"/admin/organizations/{organization_id}",
            f"/admin/directories/{directory_id}",
            f"/admin/directories/{directory_id}/users",
            f"/admin/directories/{directory_id}/groups",
        )
    ]
    assert "revoked" in later[2]
    for text in later:
        assert first not in text
        assert second not in text


def test_users_search_pages_and_history(
    portal: Portal, scim: DirectoryClient, live_server: LiveServer
) -> None:
    people = {
        "alice.anders@acme.com": {"name": {"givenName": "Alice", "familyName": "Anders"}},
        "bob@acme.com": {"emails": [{"value": "robert.brown@mail.example", "primary": True}]},
        "carol@other.org": {"displayName": "Carol Chen"},
    }
    ids = {}
    for user_name, attributes in people.items():
        created = scim.http.post("/Users", json=user(user_name, **attributes))
        assert created.status_code == 201, created.text
        ids[user_name] = created.json()["id"]
    base = f"/admin/directories/{scim.directory_id}/users"

    def found(query: str) -> str:
        answer = portal.get(base, params={"q": query})
        assert answer.status_code == 200
        return answer.text

    anders = found("ANDERS")
    assert "alice.anders@acme.com" in anders
    assert "bob@acme.com" not in anders and "carol@other.org" not in anders
    by_email = found("robert.brown")
    assert "bob@acme.com" in by_email and "alice.anders@acme.com" not in by_email
    by_name = found("chen")
    assert "carol@other.org" in by_name and "bob@acme.com" not in by_name
    assert "No user matches" in found("nobody-at-all")
    everyone = found("")
    assert all(name in everyone for name in people)
    assert "1\N{EN DASH}3 of 3 users" in everyone

    # htmx asks for the results region alone.
    fragment = portal.get(base, params={"q": "anders"}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and 'id="results"' not in fragment.text
    assert "alice.anders@acme.com" in fragment.text and "bob@acme.com" not in fragment.text
    page = portal.get(base).text
    assert 'hx-get="' + base + '"' in page and 'aria-live="polite"' in page

    alice = ids["alice.anders@acme.com"]
    changed = scim.http.patch(
        f"/Users/{alice}", json=patch({"op": "replace", "path": "title", "value": "Engineer"})
    )
    assert changed.status_code == 200, changed.text
    off = scim.http.patch(
        f"/Users/{alice}", json=patch({"op": "replace", "path": "active", "value": False})
    )
    assert off.status_code == 200, off.text

    detail = portal.get(f"{base}/{alice}")
    assert detail.status_code == 200
    text = _text(detail.text)
    assert text.index("user.created") < text.index("user.updated") < text.index("user.deactivated")
    assert 'title : (absent) → "Engineer"' in text
    assert "active : (absent) → false" in text
    assert "Anders" in text and "inactive" in text
    assert "&#34;userName&#34;: &#34;alice.anders@acme.com&#34;" in detail.text

    # A user is found only within the directory its address names.
    other = new_directory(live_server)
    try:
        stranger = other.http.post("/Users", json=user("stranger@else.com"))
        assert stranger.status_code == 201
        elsewhere = portal.get(f"{base}/{stranger.json()['id']}")
        assert elsewhere.status_code == 404
        assert "No such user" in elsewhere.text
    finally:
        other.http.close()
    assert portal.get(f"{base}/{secrets.token_hex(8)}").status_code == 404
    assert portal.get(f"/admin/directories/{secrets.token_hex(8)}/users").status_code == 404


def test_groups_search_and_members(portal: Portal, scim: DirectoryClient) -> None:
    members = []
    for name in ("dana@acme.com", "eli@acme.com"):
        created = scim.http.post("/Users", json=user(name))
        assert created.status_code == 201
        members.append(created.json()["id"])
    engineers = scim.http.post("/Groups", json=group("Engineers", members))
    assert engineers.status_code == 201
    assert scim.http.post("/Groups", json=group("Sales")).status_code == 201
    base = f"/admin/directories/{scim.directory_id}/groups"

    listed = portal.get(base, params={"q": "engin"})
    assert listed.status_code == 200
    assert "Engineers" in listed.text and "Sales" not in listed.text
    cells = re.findall(r'<td class="num">(\d+)</td>', listed.text)
    assert cells == ["2"]

    detail = portal.get(f"{base}/{engineers.json()['id']}")
    assert detail.status_code == 200
    assert "dana@acme.com" in detail.text and "eli@acme.com" in detail.text
    assert f"/admin/directories/{scim.directory_id}/users/{members[0]}" in detail.text
    assert portal.get(f"{base}/{secrets.token_hex(8)}").status_code == 404


def test_setup_links_are_shown_once_and_can_be_revoked(portal: Portal) -> None:
    organization_id = create_organization(portal)
    directory_id, *_ = create_directory(portal, organization_id)
    path = f"/admin/organizations/{organization_id}/setup-links"

    created = portal.post(path, {"valid_days": "3", "directory_id": directory_id})
    assert created.status_code == 201, created.text
    found = _LINK_FIELD.search(created.text)
    assert found is not None
    url = html.unescape(found.group(1))
    assert "/setup/scimgate_setup_" in url
    secret = url.rsplit("/", 1)[1]
    assert '<label for="setup-link">' in created.text
    assert "opens once, in one browser" in created.text

    page = portal.get(f"/admin/organizations/{organization_id}")
    assert secret not in page.text
    links = page.text.split("Setup links", 1)[1]
    assert "unopened" in links
    revoke = re.findall(r'action="(/admin/setup-links/[^/"]+/revoke)"', page.text)
    assert len(revoke) == 1
    assert portal.post(revoke[0]).headers["location"] == f"/admin/organizations/{organization_id}"
    after = portal.get(f"/admin/organizations/{organization_id}").text
    assert "revoked" in after.split("Setup links", 1)[1]
    assert secret not in after

    assert portal.post(path, {"valid_days": "31"}).status_code == 422
    elsewhere = create_organization(portal)
    foreign = portal.post(
        f"/admin/organizations/{elsewhere}/setup-links", {"directory_id": directory_id}
    )
    assert foreign.status_code == 404


_OAUTH_FIELD = re.compile(
    r'id="(oauth-endpoint|oauth-client-id|oauth-client-secret)" readonly value="([^"]+)"'
)


def _oauth_shown(answer: httpx.Response) -> dict[str, str]:
    assert answer.status_code == 201, answer.text
    assert "shown on this page only" in answer.text
    return {name: html.unescape(value) for name, value in _OAUTH_FIELD.findall(answer.text)}


def test_an_oauth_client_is_made_given_a_new_secret_and_revoked_from_the_directory_page(
    portal: Portal,
) -> None:
    directory_id, base_url, _, _ = create_directory(portal, create_organization(portal))
    made = _oauth_shown(
        portal.post(f"/admin/directories/{directory_id}/oauth-clients", {"name": "entra"})
    )
    assert set(made) == {"oauth-endpoint", "oauth-client-id", "oauth-client-secret"}
    obtained = oauth_token(made)
    assert obtained.status_code == 200, obtained.text
    with scim_client(base_url, obtained.json()["access_token"]) as idp:
        assert idp.get("/Users").status_code == 200

    overview = portal.get(f"/admin/directories/{directory_id}").text
    assert made["oauth-client-id"] in overview and made["oauth-client-secret"] not in overview
    client_path = f"/admin/directories/{directory_id}/oauth-clients/{made['oauth-client-id']}"
    renewed = _oauth_shown(portal.post(f"{client_path}/rotate"))
    assert renewed["oauth-client-id"] == made["oauth-client-id"]
    assert oauth_token(made).json()["error"] == "invalid_client"
    assert oauth_token(renewed).status_code == 200

    assert portal.post(f"{client_path}/revoke").status_code == 303
    assert oauth_token(renewed).json()["error"] == "invalid_client"
    assert "revoked" in portal.get(f"/admin/directories/{directory_id}").text
    assert portal.post(f"{client_path}/revoke").status_code == 404
    assert portal.post(f"{client_path}/rotate").status_code == 404


def test_forms_without_the_csrf_token_change_nothing(portal: Portal) -> None:
    name = f"Forged {secrets.token_hex(4)}"
    forged = portal.http.post("/admin/organizations", data={"name": name})
    assert forged.status_code == 403
    assert "No organization" in portal.get("/admin/", params={"q": name}).text

    organization_id = create_organization(portal)
    directory = portal.http.post(
        f"/admin/organizations/{organization_id}/directories", data={"name": name}
    )
    assert directory.status_code == 403
    assert name not in portal.get(f"/admin/organizations/{organization_id}").text


def test_unknown_pages_and_bad_forms(portal: Portal) -> None:
    assert portal.get(f"/admin/organizations/{secrets.token_hex(8)}").status_code == 404
    unknown = portal.get(f"/admin/directories/{secrets.token_hex(8)}")
    assert unknown.status_code == 404
    assert "No such directory" in unknown.text
    assert portal.post("/admin/organizations", {"name": "   "}).status_code == 422
    organization_id = create_organization(portal)
    name = f"Refused {secrets.token_hex(4)}"
    bad_idp = portal.post(
        f"/admin/organizations/{organization_id}/directories", {"name": name, "idp": "nope"}
    )
    assert bad_idp.status_code == 422
    assert name not in portal.get(f"/admin/organizations/{organization_id}").text


def test_unknown_addresses_and_refused_parameters_answer_with_a_page(portal: Portal) -> None:
    """Not the API's JSON: the portal's own page, with its status and a reason in words."""
    unknown = portal.get("/admin/nope")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("text/html")
    assert "There is no such page" in _text(unknown.text)
    huge = portal.get("/admin/", params={"start": "9" * 30})
    assert huge.status_code == 400
    assert huge.headers["content-type"].startswith("text/html")
    assert "start: Input should be" in _text(huge.text)
    for answer in (unknown, huge):
        assert "urn:ietf:params:scim" not in answer.text


def test_a_read_only_key_sees_pages_without_forms(
    portal: Portal, admin: httpx.Client, live_server: LiveServer
) -> None:
    organization_id = create_organization(portal)
    directory_id, *_ = create_directory(portal, organization_id)
    key = admin.post("/keys", json={"name": f"support {secrets.token_hex(3)}", "scope": "read"})
    assert key.status_code == 201, key.text
    reader = sign_in(live_server.url, key.json()["secret"])
    try:
        for path in (
            f"/admin/organizations/{organization_id}",
            f"/admin/directories/{directory_id}",
        ):
            page = reader.get(path)
            assert page.status_code == 200
            assert 'method="post"' not in page.text.split("</header>", 1)[1]
        refused = reader.post(f"/admin/directories/{directory_id}/tokens/rotate")
        assert refused.status_code == 403
    finally:
        reader.http.close()


def test_users_come_fifty_to_a_page(portal: Portal, scim: DirectoryClient) -> None:
    for number in range(52):
        assert scim.http.post("/Users", json=user(f"u{number:02}@page.test")).status_code == 201
    base = f"/admin/directories/{scim.directory_id}/users"

    first = portal.get(base, params={"q": "page.test"}).text
    assert "1\N{EN DASH}50 of 52 users" in first
    assert first.count(f'href="{base}/') == 50
    following = re.search(r'href="([^"]+)">Next 50', first)
    assert following is not None
    assert html.unescape(following.group(1)) == f"{base}?q=page.test&start=51"

    second = portal.get(html.unescape(following.group(1))).text
    assert "51\N{EN DASH}52 of 52 users" in second
    assert "u50@page.test" in second and "u51@page.test" in second
    assert "u00@page.test" not in second
    assert "Next 50" not in second and "Previous 50" in second


def test_the_dashboard_finds_organizations_by_name_a_page_at_a_time(
    live_server: LiveServer, portal: Portal
) -> None:
    family = f"Paged {secrets.token_hex(4)}"
    for index in range(27):
        tenant_service.create_organization(live_server.engine, f"{family} {index:02d}")
    first = portal.get("/admin/", params={"q": family.upper()})
    assert "1\N{EN DASH}25 of 27 organizations" in first.text
    assert f"{family} 00" in first.text and f"{family} 24" in first.text
    assert f"{family} 25" not in first.text
    second = portal.get("/admin/", params={"q": family, "start": 26})
    assert "26\N{EN DASH}27 of 27 organizations" in second.text
    assert f"{family} 26" in second.text and f"{family} 00" not in second.text
    none = portal.get("/admin/", params={"q": f"{family} nobody"})
    assert "No organization" in none.text


def test_a_time_in_a_narrow_column_is_the_clock_today_and_the_date_before() -> None:
    now = datetime(2026, 12, 5, 14, 0, tzinfo=UTC)
    assert clock(datetime(2026, 12, 5, 9, 3, 27, tzinfo=UTC), now) == "09:03:27"
    assert clock(datetime(2026, 12, 4, 23, 59, 1, tzinfo=UTC), now) == "Dec 04 23:59"


def test_the_header_names_the_signed_in_key_and_ids_come_with_copy_buttons(
    live_server: LiveServer, scim: DirectoryClient
) -> None:
    key = admin_keys.create_key(live_server.engine, "Dana from support", "read")
    portal = sign_in(live_server.url, key.secret)
    page = portal.get(f"/admin/directories/{scim.directory_id}").text
    assert "Signed in as Dana from support</span>" in html.unescape(page)
    assert f"Signed in as {key.record.id}" not in page  # the id only on hover
    for field in ("directory-id", "scim-base-url"):
        assert f'data-copy="{field}"' in page
    assert '<script src="/admin/static/copy.js" defer></script>' in page
