"""The portal's operations pages: the provisioning log, webhooks with replay, mapping editors."""

import html
import re
import secrets
import threading
from datetime import UTC

from conftest import DirectoryClient, LiveServer
from portal_support import Portal, sign_in
from scim_payloads import ENTERPRISE_SCHEMA, USER_SCHEMA, group, user
from scimgate.service.administration import admin_keys, attribute_mappings, roles, tenants
from scimgate.service.administration.directory_view import directory_users
from scimgate.service.operations import provisioning_log
from scimgate.service.portal import mapping_preview
from webhook_support import Endpoints, Receiver, Reply, organization_with, wait_until, worker_thread

HTMX = {"HX-Request": "true"}
_SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]+")


def _logged(server: LiveServer, directory_id: str, count: int) -> None:
    """Wait for the log to hold ``count`` entries: each is written once its answer is sent."""
    wait_until(
        lambda: (
            len(provisioning_log.search(server.engine, directory_id, limit=500).entries) >= count
        ),
        f"{count} requests are logged",
    )


def _entry_links(page: str, directory_id: str) -> list[str]:
    return re.findall(rf'href="(/admin/directories/{directory_id}/logs/[^"?]+)"', page)


def test_a_conflict_shows_in_the_log_with_its_diagnosis_and_bodies(
    portal: Portal, scim: DirectoryClient, live_server: LiveServer
) -> None:
    assert scim.http.post("/Users", json=user("ann@example.com")).status_code == 201
    conflict = scim.http.post("/Users", json=user("ann@example.com", displayName="Ann Again"))
    assert conflict.status_code == 409
    _logged(live_server, scim.directory_id, 2)
    [logged] = provisioning_log.search(live_server.engine, scim.directory_id, status="409").entries
    assert logged.diagnosis is not None and "already belongs to" in logged.diagnosis
    logs = f"/admin/directories/{scim.directory_id}/logs"

    page = portal.get(logs)
    assert page.status_code == 200, page.text
    assert "409 Conflict" in page.text and "201 Created" in page.text
    assert logged.diagnosis[:100] in html.unescape(page.text)
    newest_first = _entry_links(page.text, scim.directory_id)
    assert newest_first[0].endswith(logged.id) and len(newest_first) == 2
    # A compact time in the column, the full one on hover; no IdP named for an httpx client.
    full = logged.received_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert f'title="{full}, ' in page.text
    assert f">{logged.received_at.astimezone(UTC):%H:%M:%S}</time>" in page.text
    assert logged.client is None

    failures = portal.get(logs, params={"status": "4xx"})
    assert "409 Conflict" in failures.text and "201 Created" not in failures.text
    assert _entry_links(failures.text, scim.directory_id) == [f"{logs}/{logged.id}"]
    fragment = portal.get(logs, params={"status": "4xx"}, headers=HTMX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "409 Conflict" in fragment.text and "201 Created" not in fragment.text
    nobody = portal.get(logs, params={"user": "bob@example.com"})
    assert "No requests match." in nobody.text
    bad = portal.get(logs, params={"status": "4x"})
    assert bad.status_code == 400 and "give a status like 409" in html.unescape(bad.text)

    detail = portal.get(f"{logs}/{logged.id}")
    assert detail.status_code == 200, detail.text
    text = html.unescape(detail.text)
    assert logged.diagnosis in text and logged.request_id in text
    assert '"displayName": "Ann Again"' in text  # the request body, indented
    assert '"scimType": "uniqueness"' in text  # the response body
    assert portal.get(f"{logs}/no-such-entry").status_code == 404


def test_a_webhook_secret_is_shown_once_at_registration_and_rotation(
    portal: Portal, live_server: LiveServer, endpoints: Endpoints
) -> None:
    organization = tenants.create_organization(live_server.engine, f"org {secrets.token_hex(3)}")
    # Connections to port 9 are refused at once; the organization has no directory to send from.
    url = f"http://127.0.0.1:9/{secrets.token_hex(4)}"
    registered = portal.post(
        "/admin/webhooks",
        {
            "url": url,
            "organization_id": organization.id,
            "event_types": "user.created, user.deactivated",
            "description": "the app",
        },
    )
    assert registered.status_code == 201, registered.text
    [secret] = _SECRET.findall(registered.text)
    endpoint_id = re.findall(r'href="/admin/webhooks/([^"/]+)"', registered.text)[-1]
    endpoints.created.append(endpoint_id)
    endpoint = endpoints.admin.get(f"/webhooks/{endpoint_id}").json()
    assert endpoint["url"] == url and endpoint["event_types"] == [
        "user.created",
        "user.deactivated",
    ]

    listing = portal.get("/admin/webhooks")
    assert url in listing.text and organization.name in listing.text
    page = portal.get(f"/admin/webhooks/{endpoint_id}")
    assert page.status_code == 200 and url in page.text and "enabled" in page.text
    assert not _SECRET.search(listing.text) and not _SECRET.search(page.text)

    rotated = portal.post(f"/admin/webhooks/{endpoint_id}/rotate-secret")
    assert rotated.status_code == 200
    [new_secret] = _SECRET.findall(rotated.text)
    assert new_secret != secret
    again = portal.get(f"/admin/webhooks/{endpoint_id}")
    assert not _SECRET.search(again.text) and again.text.count("made ") == 2

    refused = portal.post("/admin/webhooks", {"url": "ftp://example.com/hook"})
    assert refused.status_code == 400
    assert "is not an http or https URL" in html.unescape(refused.text)
    assert "ftp://example.com/hook" in refused.text  # the form keeps what was typed

    disabled = portal.post(f"/admin/webhooks/{endpoint_id}/disable", {"reason": "moving"})
    assert disabled.status_code == 303
    assert endpoints.admin.get(f"/webhooks/{endpoint_id}").json()["disabled_reason"] == "moving"
    assert "moving" in portal.get(f"/admin/webhooks/{endpoint_id}").text


def test_failed_deliveries_show_their_attempts_and_replay_sends_the_event_again(
    portal: Portal,
    live_server: LiveServer,
    database_url: str,
    endpoints: Endpoints,
    receiver: Receiver,
) -> None:
    org = organization_with(live_server, 1)
    directory = org.directories[0]
    endpoint = endpoints.register(
        receiver.url(), organization_id=org.id, event_types=["user.created"]
    )
    page_url = f"/admin/webhooks/{endpoint['id']}"
    healthy = threading.Event()
    receiver.plan = lambda _: Reply(200) if healthy.is_set() else Reply(500, body="down for now")
    with worker_thread(database_url, schedule=(0.1, 0.1)):
        directory.http.post("/Users", json=user("ann"))
        wait_until(
            lambda: not endpoints.admin.get(f"/webhooks/{endpoint['id']}").json()["enabled"],
            "the endpoint is disabled after its retries",
        )
    [delivery] = endpoints.deliveries(endpoint["id"])
    assert delivery["status"] == "pending" and delivery["attempts"] == 3
    assert "1 waiting" in portal.get(f"{page_url}/backlog", headers=HTMX).text

    page = portal.get(page_url)
    assert "disabled" in page.text and "failing" in page.text
    assert "when the endpoint is enabled" in page.text
    failing = portal.get(page_url, params={"status": "failing"}, headers=HTMX)
    assert f"#{delivery['event_seq']}" in failing.text and "<html" not in failing.text
    delivered = portal.get(page_url, params={"status": "delivered"})
    assert "No deliveries of this kind." in delivered.text
    attempts = portal.get(f"/admin/webhooks/deliveries/{delivery['id']}", headers=HTMX)
    assert attempts.text.count("500 failed") == 3 and "down for now" in attempts.text
    assert "<html" not in attempts.text
    assert portal.get(f"/admin/webhooks/deliveries/{delivery['id']}").status_code == 200

    # A delivery still waiting is sent again by itself: replaying it is refused, politely.
    waiting = portal.post(f"/admin/webhooks/deliveries/{delivery['id']}/replay", headers=HTMX)
    assert "already waiting for delivery" in waiting.text
    assert len(endpoints.deliveries(endpoint["id"])) == 1

    healthy.set()
    assert portal.post(f"{page_url}/enable").status_code == 303
    with worker_thread(database_url):
        wait_until(lambda: endpoints.all_delivered(endpoint["id"], 1), "enabling delivers it")
        page = portal.get(page_url)
        label = f'aria-label="Replay delivery of user.created #{delivery["event_seq"]}"'
        assert label in page.text

        replayed = portal.post(f"/admin/webhooks/deliveries/{delivery['id']}/replay", headers=HTMX)
        assert replayed.status_code == 200 and "queued again" in replayed.text
        assert "<html" not in replayed.text
        newest = endpoints.deliveries(endpoint["id"])[0]
        assert newest["id"] != delivery["id"] and newest["event_id"] == delivery["event_id"]
        wait_until(lambda: endpoints.all_delivered(endpoint["id"], 2), "the replay is delivered")

        plain = portal.post(f"/admin/webhooks/deliveries/{delivery['id']}/replay")
        assert plain.status_code == 303 and plain.headers["location"] == page_url
        wait_until(lambda: endpoints.all_delivered(endpoint["id"], 3), "the second replay")
    ids = [each.webhook_id for each in receiver.received()]
    assert ids == [delivery["event_id"]] * 6  # three failures, then one delivery and two replays


def test_an_enabled_endpoint_that_fails_says_so_everywhere(
    portal: Portal,
    live_server: LiveServer,
    database_url: str,
    endpoints: Endpoints,
    receiver: Receiver,
) -> None:
    org = organization_with(live_server, 1)
    endpoint = endpoints.register(receiver.url(), organization_id=org.id)
    page_url = f"/admin/webhooks/{endpoint['id']}"
    receiver.plan = lambda _: Reply(500, body="down")
    with worker_thread(database_url, schedule=(0.1,) * 50):
        org.directories[0].http.post("/Users", json=user("ann"))
        wait_until(
            lambda: any(each["attempts"] for each in endpoints.deliveries(endpoint["id"])),
            "a failed attempt",
        )
    page = html.unescape(portal.get(page_url).text)
    assert "enabled" in page and "failing" in page and "the attempts below say why" in page
    name = tenants.find_organization(live_server.engine, org.id).name
    assert f">{name}</a>" in page  # the organization by its name, not its id
    backlog = portal.get(f"{page_url}/backlog", headers=HTMX).text
    assert "waiting" in backlog and "failing" in backlog
    dashboard = html.unescape(portal.get("/admin/").text)
    assert "Webhook endpoints failing" in dashboard
    assert endpoint["url"] in dashboard


def test_a_read_only_session_may_look_but_not_replay_or_edit(
    live_server: LiveServer, scim: DirectoryClient
) -> None:
    issued = admin_keys.create_key(live_server.engine, "support desk", "read")
    viewer = sign_in(live_server.url, issued.secret)
    try:
        listing = viewer.get("/admin/webhooks")
        assert listing.status_code == 200 and "Register an endpoint" not in listing.text
        refused = viewer.post("/admin/webhooks/deliveries/any-delivery/replay", headers=HTMX)
        assert refused.status_code == 403
        mappings = f"/admin/directories/{scim.directory_id}/mappings"
        page = viewer.get(mappings)
        assert page.status_code == 200 and "read-only key" in page.text
        assert "Preview" not in page.text
        edit = viewer.post(mappings, {"name": "badge", "path": "title"})
        assert edit.status_code == 403 and "read-only" in html.unescape(edit.text)
    finally:
        viewer.http.close()
    effective = attribute_mappings.effective_mappings(live_server.engine, scim.directory_id)
    assert "badge" not in effective


def _employee(scim: DirectoryClient, name: str, number: str, title: str | None) -> str:
    body = {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "userName": name,
        ENTERPRISE_SCHEMA: {"employeeNumber": number},
    }
    if title:
        body["title"] = title
    created = scim.http.post("/Users", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _employee_ids(server: LiveServer, directory_id: str) -> dict[str, object]:
    _, found = directory_users(server.engine, directory_id, server.url, count=50)
    return {each.username: each.custom_attributes["employee_id"] for each in found}


def test_a_mapping_preview_shows_before_and_after_and_saves_nothing(
    portal: Portal, scim: DirectoryClient, live_server: LiveServer
) -> None:
    _employee(scim, "ann", "E-100", "Engineer")
    _employee(scim, "bob", "E-200", "Manager")
    _employee(scim, "cy", "E-300", None)
    engine = live_server.engine
    before = attribute_mappings.effective_mappings(engine, scim.directory_id)
    mappings = f"/admin/directories/{scim.directory_id}/mappings"
    page = portal.get(mappings)
    assert page.status_code == 200 and "employee_id" in page.text and "IdP default" in page.text

    preview = portal.post(
        f"{mappings}/preview", {"name": "employee_id", "path": "title"}, headers=HTMX
    )
    assert preview.status_code == 200 and "<html" not in preview.text
    text = html.unescape(preview.text)
    assert "3</strong> users' values would change" in text
    assert "of the directory's 3 users" in text
    assert '"E-100"' in text and '"Engineer"' in text and '"Manager"' in text
    assert attribute_mappings.effective_mappings(engine, scim.directory_id) == before
    assert _employee_ids(live_server, scim.directory_id) == {
        "ann": "E-100",
        "bob": "E-200",
        "cy": "E-300",
    }
    without_htmx = portal.post(f"{mappings}/preview", {"name": "employee_id", "path": "title"})
    assert without_htmx.status_code == 200 and "<html" in without_htmx.text
    assert "users&#39; values would change" in without_htmx.text

    invalid = portal.post(mappings, {"name": "employee_id", "path": "noSuchThing"})
    assert invalid.status_code == 400
    assert "is not an attribute of a user" in html.unescape(invalid.text)
    assert 'value="noSuchThing"' in invalid.text
    invalid_preview = portal.post(
        f"{mappings}/preview", {"name": "employee_id", "path": "noSuchThing"}, headers=HTMX
    )
    assert "is not an attribute of a user" in html.unescape(invalid_preview.text)
    assert attribute_mappings.effective_mappings(engine, scim.directory_id) == before

    saved = portal.post(mappings, {"name": "employee_id", "path": "title"})
    assert saved.status_code == 303 and saved.headers["location"] == mappings
    assert attribute_mappings.effective_mappings(engine, scim.directory_id)["employee_id"] == (
        "title"
    )
    assert _employee_ids(live_server, scim.directory_id) == {
        "ann": "Engineer",
        "bob": "Manager",
        "cy": None,
    }
    shown = portal.get(mappings)
    assert "this directory" in shown.text and "Remove the mapping of employee_id" in shown.text
    assert portal.post(f"{mappings}/employee_id/remove").status_code == 303
    assert attribute_mappings.effective_mappings(engine, scim.directory_id) == before
    assert portal.post(f"{mappings}/employee_id/remove").status_code == 404


def test_a_role_rule_preview_lists_who_gains_the_role_and_saves_nothing(
    portal: Portal, scim: DirectoryClient, live_server: LiveServer
) -> None:
    ann = _employee(scim, "ann", "E-1", None)
    _employee(scim, "bob", "E-2", None)
    assert scim.http.post("/Groups", json=group("Admins", [ann])).status_code == 201
    engine = live_server.engine
    rules = f"/admin/directories/{scim.directory_id}/roles"
    fields = {"kind": "group_name", "match": "admins", "role": "admin", "priority": "10"}

    preview = portal.post(f"{rules}/preview", fields, headers=HTMX)
    assert preview.status_code == 200, preview.text
    text = html.unescape(preview.text)
    assert "1</strong> user would gain the role" in text and "gains admin" in text
    assert "ann" in text and "bob" not in text
    assert roles.list_rules(engine, scim.directory_id) == []

    refused = portal.post(rules, {**fields, "match": ""})
    assert refused.status_code == 400 and "a rule needs a role" in html.unescape(refused.text)
    assert roles.list_rules(engine, scim.directory_id) == []

    assert portal.post(rules, fields).status_code == 303
    [rule] = roles.list_rules(engine, scim.directory_id)
    _, found = directory_users(engine, scim.directory_id, live_server.url, count=10)
    assert {each.username: each.roles for each in found} == {"ann": ["admin"], "bob": []}
    default = portal.post(
        f"{rules}/preview", {"kind": "default", "role": "member", "priority": "100"}, headers=HTMX
    )
    assert "1</strong> user would gain the role" in html.unescape(default.text)
    assert portal.post(f"{rules}/{rule.id}/remove").status_code == 303
    assert roles.list_rules(engine, scim.directory_id) == []


def test_unknown_directories_and_endpoints_are_404(portal: Portal) -> None:
    for path in (
        "/admin/directories/no-such-directory/logs",
        "/admin/directories/no-such-directory/mappings",
        "/admin/webhooks/no-such-endpoint",
        "/admin/webhooks/deliveries/no-such-delivery",
    ):
        assert portal.get(path).status_code == 404, path


def test_the_log_pages_by_cursor_newest_first(
    portal: Portal, scim: DirectoryClient, live_server: LiveServer
) -> None:
    for index in range(52):
        assert scim.http.get("/Users", params={"count": str(index)}).status_code == 200
    _logged(live_server, scim.directory_id, 52)
    logs = f"/admin/directories/{scim.directory_id}/logs"
    first = portal.get(logs)
    links = _entry_links(first.text, scim.directory_id)
    assert len(links) == 50 and "Older entries" in first.text
    [older] = re.findall(r'href="([^"]*before=[^"]+)"', first.text)
    second = portal.get(html.unescape(older), headers=HTMX)
    rest = _entry_links(second.text, scim.directory_id)
    assert len(rest) == 2 and not set(rest) & set(links)
    assert "Older entries" not in second.text and "Newest entries" in second.text
    newest = provisioning_log.search(live_server.engine, scim.directory_id, limit=1).entries[0]
    assert links[0] == f"{logs}/{newest.id}"


def test_a_preview_of_a_large_directory_reads_only_its_first_users(
    scim: DirectoryClient, live_server: LiveServer
) -> None:
    for name in ("ann", "bob", "cy"):
        _employee(scim, name, f"E-{name}", "Engineer")
    engine = live_server.engine
    found = mapping_preview.preview_mapping(engine, scim.directory_id, "job", "title", cap=2)
    assert found.current_path is None
    assert (found.preview.total, found.preview.scanned, found.preview.changed) == (3, 2, 2)
    assert found.preview.truncated
    assert [change.after for change in found.preview.examples] == ["Engineer", "Engineer"]
    rule = mapping_preview.preview_rule(
        engine, scim.directory_id, "default", "", "member", 100, cap=2
    )
    assert rule.gaining == 2 and rule.preview.truncated
    assert "job" not in attribute_mappings.effective_mappings(engine, scim.directory_id)
    assert roles.list_rules(engine, scim.directory_id) == []
