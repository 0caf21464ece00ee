"""The events API: cursor paging, filters, long-polling, authentication, schema, retention."""

import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import jsonschema

from conftest import ADMIN_TOKEN, DirectoryClient, LiveServer, new_directory
from event_support import admin_client, last_seq, private_server, published, read_all
from factories import organization_of
from scim_payloads import group, patch, user
from scimgate.config import EventSettings, LogPolicy
from scimgate.events.models import EventType
from scimgate.events.schema import event_schema
from scimgate.service.administration import roles, tenants
from scimgate.service.event_stream import event_feed, safety
from scimgate.service.operations import maintenance
from scimgate.store.events import StoredEvent
from scimgate.store.ids import new_id

DEACTIVATE = patch({"op": "replace", "path": "active", "value": False})

RETENTION_SECONDS = 1.0
"""The retention of the test of held events: long enough for a release and the upkeep after it
to happen within it on a loaded machine, short enough to wait out."""


def _sibling(server: LiveServer, scim: DirectoryClient) -> DirectoryClient:
    """Another directory of the same organization as ``scim``."""
    organization_id = organization_of(server.engine, scim.directory_id)
    created = tenants.create_directory(server.engine, organization_id, "sibling")
    base_url = f"{server.url}/scim/v2/{created.directory.id}"
    http = httpx.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {created.token.secret}"},
        timeout=30,
    )
    return DirectoryClient(created.directory.id, created.token.secret, base_url, http)


def _ids(found: list[dict[str, Any]]) -> list[str]:
    return [event["id"] for event in found]


def test_pages_follow_the_cursor_and_filters_select(
    scim: DirectoryClient, admin: httpx.Client, live_server: LiveServer
) -> None:
    engine = live_server.engine
    start = admin.get("/events/latest").json()["cursor"]
    assert start == last_seq(engine)
    sibling = _sibling(live_server, scim)
    stranger = new_directory(live_server, "another organization")
    for client, name in ((scim, "ann"), (sibling, "bob"), (stranger, "cat")):
        user_id = client.http.post("/Users", json=user(name)).json()["id"]
        assert client.http.post("/Groups", json=group(f"{name}'s team", [user_id])).is_success
        assert client.http.patch(f"/Users/{user_id}", json=DEACTIVATE).is_success

    everything = published(engine, after=start)
    assert len(everything) == 3 * 5
    assert admin.get("/events/latest").json()["cursor"] == everything[-1].seq

    # Small pages, each ending where the next begins, add up to the whole stream.
    after, paged = start, []
    while True:
        page = admin.get("/events", params={"after": after, "limit": 2}).json()
        assert len(page["data"]) <= 2
        if not page["data"]:
            assert page["next_cursor"] == after
            break
        assert page["next_cursor"] == page["data"][-1]["sequence"]
        paged += page["data"]
        after = page["next_cursor"]
    assert _ids(paged) == [event.id for event in everything]

    for client in (scim, sibling, stranger):
        assert _ids(read_all(admin, start, directory_id=client.directory_id)) == [
            event.id for event in everything if event.directory_id == client.directory_id
        ]
    organization_id = organization_of(engine, scim.directory_id)
    of_organization = read_all(admin, start, organization_id=organization_id)
    assert {event["directory_id"] for event in of_organization} == {
        scim.directory_id,
        sibling.directory_id,
    }
    assert len(of_organization) == 10
    typed = read_all(admin, start, types="user.created, group.user_added")
    assert [event["type"] for event in typed] == ["user.created", "group.user_added"] * 3
    combined = read_all(admin, start, organization_id=organization_id, types="user.deactivated")
    assert {event["data"]["user"]["username"] for event in combined} == {"ann", "bob"}
    assert read_all(admin, start, directory_id=scim.directory_id, organization_id="nope") == []
    sibling.http.close()
    stranger.http.close()


def test_bad_parameters_are_refused_with_a_reason(admin: httpx.Client) -> None:
    unknown = admin.get("/events", params={"types": "user.created,user.vanished"})
    assert unknown.status_code == 400
    assert unknown.json()["scimType"] == "invalidValue"
    detail = unknown.json()["detail"]
    assert "user.vanished" in detail
    assert all(kind.value in detail for kind in EventType)
    for params in ({"limit": 0}, {"limit": 1001}, {"after": -1}, {"wait": 31}, {"after": "x"}):
        refused = admin.get("/events", params=params)
        assert refused.status_code == 400, params
        assert refused.json()["detail"]
    assert admin.get("/events", params={"limit": 1000, "after": 0}).status_code == 200


def test_a_long_poll_answers_when_an_event_comes_and_times_out_empty(
    scim: DirectoryClient, admin: httpx.Client, live_server: LiveServer
) -> None:
    idle = new_directory(live_server, "idle")
    assert scim.http.get("/Users").status_code == 200  # activated: one event less to race with
    cursor = admin.get("/events/latest").json()["cursor"]
    waited = admin.get(
        "/events", params={"after": cursor, "directory_id": idle.directory_id, "wait": 0.2}
    )
    assert waited.status_code == 200
    assert waited.json() == {"data": [], "next_cursor": cursor}

    answers: list[httpx.Response] = []

    def poll() -> None:
        with admin_client(live_server) as http:
            answers.append(
                http.get(
                    "/events",
                    params={"after": cursor, "directory_id": scim.directory_id, "wait": 20},
                )
            )

    poller = threading.Thread(target=poll)
    started = time.monotonic()
    poller.start()
    time.sleep(0.5)
    created = scim.http.post("/Users", json=user("late@example.com")).json()["id"]
    poller.join(timeout=30)
    # The poll ends with the event, well before its 20 seconds are up.
    assert time.monotonic() - started < 15
    page = answers[0].json()
    assert [event["type"] for event in page["data"]] == ["user.created"]
    assert page["data"][-1]["data"]["user"]["id"] == created
    assert page["next_cursor"] == page["data"][-1]["sequence"]
    idle.http.close()


def test_only_the_admin_token_opens_the_events_api(
    scim: DirectoryClient, live_server: LiveServer
) -> None:
    paths = [
        "/api/v1/events",
        "/api/v1/events/latest",
        f"/api/v1/directories/{scim.directory_id}/held",
        f"/api/v1/directories/{scim.directory_id}/users/{scim.directory_id}/events",
    ]
    for headers in (
        {},
        {"Authorization": f"Bearer {scim.token}"},
        {"Authorization": f"Bearer {ADMIN_TOKEN}x"},
        {"Authorization": ADMIN_TOKEN[:-1]},
    ):
        for path in paths:
            response = httpx.get(f"{live_server.url}{path}", headers=headers)
            assert response.status_code == 401, (path, headers)
            assert response.json()["status"] == "401"
    with admin_client(live_server) as admin:
        assert admin.get("/events/latest").status_code == 200


def test_every_event_matches_the_published_schema(
    scim: DirectoryClient, admin: httpx.Client, live_server: LiveServer
) -> None:
    engine = live_server.engine
    start = last_seq(engine)
    roles.add_rule(engine, scim.directory_id, "group_name", "Admins", "admin", 1)
    ann = scim.http.post("/Users", json=user("ann", title="Engineer")).json()["id"]
    bob = scim.http.post("/Users", json=user("bob")).json()["id"]
    admins = scim.http.post("/Groups", json=group("Admins", [ann])).json()["id"]
    outer = scim.http.post("/Groups", json=group("Outer", [admins])).json()["id"]
    scim.http.patch(f"/Groups/{outer}", json=patch({"op": "remove", "path": "members"}))
    scim.http.patch(
        f"/Groups/{admins}", json=patch({"op": "replace", "path": "displayName", "value": "Ops"})
    )
    scim.http.patch(
        f"/Users/{ann}", json=patch({"op": "replace", "path": "title", "value": "Lead"})
    )
    scim.http.patch(f"/Users/{bob}", json=DEACTIVATE)
    scim.http.patch(f"/Users/{bob}", json=patch({"op": "replace", "path": "active", "value": True}))
    scim.http.delete(f"/Groups/{outer}")
    scim.http.patch(
        f"/Groups/{admins}", json=patch({"op": "add", "path": "members", "value": [{"value": bob}]})
    )
    scim.http.delete(f"/Users/{bob}")
    safety.configure(engine, scim.directory_id, max_count=1)
    scim.http.patch(f"/Users/{ann}", json=DEACTIVATE)
    assert admin.post(f"/directories/{scim.directory_id}/held/release").status_code == 200
    maintenance.raise_overdue_alerts(engine, timedelta(0))

    mine = read_all(admin, start, directory_id=scim.directory_id)
    assert {event["type"] for event in mine} == {kind.value for kind in EventType} - {
        "directory.held_events_discarded"
    }
    validator = jsonschema.Draft202012Validator(
        event_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    for event in read_all(admin, 0):
        errors = sorted(validator.iter_errors(event), key=str)
        assert not errors, f"{event['type']}: {errors[0].message}"


def test_a_users_history(
    scim: DirectoryClient, admin: httpx.Client, live_server: LiveServer
) -> None:
    ann = scim.http.post("/Users", json=user("ann")).json()["id"]
    bob = scim.http.post("/Users", json=user("bob")).json()["id"]
    team = scim.http.post("/Groups", json=group("Team", [ann, bob])).json()["id"]
    scim.http.patch(
        f"/Users/{ann}", json=patch({"op": "replace", "path": "title", "value": "Lead"})
    )
    scim.http.patch(
        f"/Groups/{team}", json=patch({"op": "remove", "path": f'members[value eq "{ann}"]'})
    )
    scim.http.patch(f"/Users/{ann}", json=DEACTIVATE)
    scim.http.delete(f"/Users/{ann}")

    history = admin.get(f"/directories/{scim.directory_id}/users/{ann}/events")
    assert history.status_code == 200
    found = history.json()["data"]
    assert [event["type"] for event in found] == [
        "user.created",
        "group.user_added",
        "user.updated",
        "group.user_removed",
        "user.deactivated",
        "user.deleted",
    ]
    assert [event["sequence"] for event in found] == sorted(event["sequence"] for event in found)
    assert all(event["directory_id"] == scim.directory_id for event in found)
    assert _ids(found) == [
        event.id
        for event in published(live_server.engine, scim.directory_id)
        if event.resource_id == ann
    ]
    unknown = admin.get(f"/directories/{scim.directory_id}/users/{new_id()}/events")
    assert unknown.status_code == 404, "a user the directory never held has no history"
    missing = admin.get(f"/directories/{ann}/users/{ann}/events")
    assert missing.status_code == 404


def test_retention_expires_old_cursors_but_not_the_latest(
    database_url: str, tmp_path: Path
) -> None:
    with private_server(database_url, tmp_path) as server, admin_client(server) as admin:
        scim = new_directory(server, "kept")
        for name in ("ann", "bob", "cat"):
            assert scim.http.post("/Users", json=user(name)).status_code == 201
        old = published(server.engine)
        assert len(old) == 4

        done = maintenance.run_upkeep(server.engine, EventSettings(retention_days=0), LogPolicy())
        assert done.events_purged_through == old[-1].seq
        assert published(server.engine) == []
        for cursor in (old[0].seq, old[-2].seq):
            expired = admin.get("/events", params={"after": cursor})
            assert expired.status_code == 410
            detail = expired.json()["detail"]
            assert f"cursor {cursor}" in detail
            assert "start again from 0" in detail
        # From the latest cursor, or from 0 (where a reader starts over), reading goes on.
        latest = admin.get("/events/latest").json()["cursor"]
        assert latest == old[-1].seq
        assert admin.get("/events", params={"after": latest}).json() == {
            "data": [],
            "next_cursor": latest,
        }
        assert admin.get("/events", params={"after": 0}).json()["data"] == []
        dan = scim.http.post("/Users", json=user("dan")).json()["id"]
        for cursor in (latest, 0):
            fresh = admin.get("/events", params={"after": cursor}).json()["data"]
            assert [event["data"]["user"]["id"] for event in fresh] == [dan]
        scim.http.close()


def test_retention_counts_from_publication_so_released_events_stay(
    database_url: str, tmp_path: Path
) -> None:
    """Held events keep the time of their change; released late, they are new to the app."""
    with private_server(database_url, tmp_path) as server, admin_client(server) as admin:
        live = new_directory(server, "live")
        reviewed = new_directory(server, "reviewed", dry_run=True)
        assert live.http.post("/Users", json=user("ann")).status_code == 201
        assert reviewed.http.post("/Users", json=user("bob")).status_code == 201
        before_release = published(server.engine)
        assert {event.directory_id for event in before_release} == {live.directory_id}
        # Every event so far, and every held change, becomes older than the retention.
        time.sleep(RETENTION_SECONDS)

        released = admin.post(f"/directories/{reviewed.directory_id}/held/release")
        assert released.json() == {"released": 2}
        done = maintenance.run_upkeep(
            server.engine, EventSettings(retention_days=RETENTION_SECONDS / 86400), LogPolicy()
        )
        assert done.events_purged_through == before_release[-1].seq
        kept = read_all(admin, before_release[-1].seq)
        assert [event["type"] for event in kept] == [
            "directory.activated",
            "user.created",
            "directory.held_events_released",
        ]
        assert all(event["directory_id"] == reviewed.directory_id for event in kept)
        live.http.close()
        reviewed.http.close()


def test_an_events_time_is_sent_in_utc() -> None:
    """A PostgreSQL session in another zone reads timestamps in that zone; the wire is UTC."""
    berlin = timezone(timedelta(hours=1))
    event = StoredEvent(
        id=new_id(),
        organization_id=new_id(),
        directory_id=new_id(),
        type="user.created",
        resource_id=None,
        occurred_at=datetime(2026, 1, 1, 9, 30, 0, 250000, tzinfo=berlin),
        data={},
        seq=7,
    )
    assert event_feed.wire(event)["occurred_at"] == "2026-01-01T08:30:00.250000Z"
