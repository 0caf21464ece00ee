"""The safety valve: a mass deprovisioning is stored but held back from the app until reviewed."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from conftest import DirectoryClient, LiveServer, new_directory
from event_support import last_seq, read_all
from scim_payloads import BULK_SCHEMA, patch, user
from scimgate.service.operations import maintenance
from scimgate.store.tables.offboarding import deprovisionings
from scimgate.store.tables.resources import users
from scimgate.store.transactions import reading

DEACTIVATE = patch({"op": "replace", "path": "active", "value": False})


def _populate(scim: DirectoryClient, count: int, prefix: str = "user") -> list[str]:
    """Create users in one Bulk request; their ids in order."""
    response = scim.http.post(
        "/Bulk",
        json={
            "schemas": [BULK_SCHEMA],
            "Operations": [
                {
                    "method": "POST",
                    "path": "/Users",
                    "bulkId": str(n),
                    "data": user(f"{prefix}{n}@example.com"),
                }
                for n in range(count)
            ],
        },
    )
    assert response.status_code == 200, response.text
    results = response.json()["Operations"]
    assert {result["status"] for result in results} == {"201"}
    return [result["location"].rsplit("/", 1)[1] for result in results]


def _configure(admin: httpx.Client, directory_id: str, **thresholds: int) -> None:
    response = admin.patch(f"/directories/{directory_id}/safety", json=thresholds)
    assert response.status_code == 200, response.text
    for name, value in thresholds.items():
        assert response.json()[name] == value


def _deactivate(scim: DirectoryClient, user_ids: list[str]) -> None:
    for user_id in user_ids:
        response = scim.http.patch(f"/Users/{user_id}", json=DEACTIVATE)
        assert response.status_code == 200, response.text
        assert response.json()["active"] is False


def _stored_active(server: LiveServer, user_ids: list[str]) -> list[bool | None]:
    with reading(server.engine) as conn:
        found = dict(
            conn.execute(select(users.c.id, users.c.active).where(users.c.id.in_(user_ids))).all()
        )
    return [found[user_id] for user_id in user_ids]


def _types(found: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in found]


def _held(admin: httpx.Client, directory_id: str) -> dict[str, Any]:
    response = admin.get(f"/directories/{directory_id}/held")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_mass_deactivation_is_held_alerted_once_and_released_in_order(
    scim: DirectoryClient, admin: httpx.Client, live_server: LiveServer
) -> None:
    people = _populate(scim, 30)
    bystander = new_directory(live_server, "bystander")
    neighbours = _populate(bystander, 4, "neighbour")
    _configure(admin, scim.directory_id, max_count=2, max_percent=20)
    cursor = last_seq(live_server.engine)

    # "More than two" trips the valve: the first two leavers are told at once.
    _deactivate(scim, people[:2])
    assert (
        _types(read_all(admin, cursor, directory_id=scim.directory_id)) == ["user.deactivated"] * 2
    )
    cursor = last_seq(live_server.engine)

    _deactivate(scim, people[2:14])
    renamed = scim.http.patch(
        f"/Users/{people[20]}", json=patch({"op": "replace", "path": "title", "value": "Stays"})
    )
    assert renamed.status_code == 200
    _deactivate(scim, people[14:16])
    # Every request was accepted and stored ...
    assert _stored_active(live_server, people[:16]) == [False] * 16
    # ... but the app hears of none of it, only of the valve tripping, once.
    seen = read_all(admin, cursor, directory_id=scim.directory_id)
    assert _types(seen) == ["directory.deprovisioning_held"]
    assert seen[0]["data"]["deprovisionings_in_window"] == 3
    held = _held(admin, scim.directory_id)
    assert held["delivery"] == "held"
    assert held["held_since"]
    assert held["held_events"] == 15

    # Other directories are not held back.
    _deactivate(bystander, neighbours[:1])
    assert _types(read_all(admin, cursor, directory_id=bystander.directory_id)) == [
        "user.deactivated"
    ]
    assert _held(admin, bystander.directory_id)["delivery"] == "live"

    released = admin.post(f"/directories/{scim.directory_id}/held/release")
    assert released.status_code == 200
    assert released.json() == {"released": 15}
    after_release = read_all(admin, cursor, directory_id=scim.directory_id)[1:]
    assert _types(after_release) == [
        *["user.deactivated"] * 12,
        "user.updated",
        *["user.deactivated"] * 2,
        "directory.held_events_released",
    ]
    assert [event["data"]["user"]["id"] for event in after_release[:-1]] == [
        *people[2:14],
        people[20],
        *people[14:16],
    ]
    assert after_release[-1]["data"]["held_events"] == 15
    assert _held(admin, scim.directory_id) == {
        "directory_id": scim.directory_id,
        "delivery": "live",
        "held_since": None,
        "held_events": 0,
    }

    # Delivery is live again, and the window starts afresh.
    cursor = last_seq(live_server.engine)
    _deactivate(scim, people[16:18])
    assert (
        _types(read_all(admin, cursor, directory_id=scim.directory_id)) == ["user.deactivated"] * 2
    )
    bystander.http.close()


def test_discarded_events_are_never_published(
    scim: DirectoryClient, admin: httpx.Client, live_server: LiveServer
) -> None:
    people = _populate(scim, 10)
    _configure(admin, scim.directory_id, max_count=1, max_percent=0)
    cursor = last_seq(live_server.engine)
    _deactivate(scim, people[:5])
    assert scim.http.delete(f"/Users/{people[5]}").status_code == 204
    assert _held(admin, scim.directory_id)["held_events"] == 5

    discarded = admin.post(f"/directories/{scim.directory_id}/held/discard")
    assert discarded.json() == {"discarded": 5}
    seen = read_all(admin, cursor, directory_id=scim.directory_id)
    assert _types(seen) == [
        "user.deactivated",
        "directory.deprovisioning_held",
        "directory.held_events_discarded",
    ]
    assert seen[-1]["data"]["held_events"] == 5
    # The changes stay stored; their deprovisionings are marked discarded.
    assert _stored_active(live_server, people[:5]) == [False] * 5
    with reading(live_server.engine) as conn:
        records = conn.execute(
            select(deprovisionings.c.user_id, deprovisionings.c.discarded_at)
            .where(deprovisionings.c.directory_id == scim.directory_id)
            .order_by(deprovisionings.c.requested_at)
        ).all()
    assert [row.user_id for row in records] == people[:6]
    assert [row.discarded_at is not None for row in records] == [False] + [True] * 5
    assert _held(admin, scim.directory_id)["delivery"] == "live"

    cursor = last_seq(live_server.engine)
    assert scim.http.patch(
        f"/Users/{people[0]}", json=patch({"op": "replace", "path": "active", "value": True})
    ).is_success
    # With nothing held, releasing or discarding changes nothing and announces nothing.
    for action, answer in (("discard", "discarded"), ("release", "released")):
        response = admin.post(f"/directories/{scim.directory_id}/held/{action}")
        assert response.json() == {answer: 0}
    assert _types(read_all(admin, cursor, directory_id=scim.directory_id)) == ["user.reactivated"]


@pytest.fixture
def reviewed(live_server: LiveServer) -> Iterator[DirectoryClient]:
    """A fresh directory created for a dry run: its events are held until released."""
    client = new_directory(live_server, "reviewed", dry_run=True)
    yield client
    client.http.close()


def test_a_dry_run_holds_everything_from_the_first_request_until_released(
    reviewed: DirectoryClient, admin: httpx.Client, live_server: LiveServer
) -> None:
    cursor = last_seq(live_server.engine)
    people = _populate(reviewed, 8)
    _deactivate(reviewed, people)
    assert read_all(admin, cursor, directory_id=reviewed.directory_id) == []
    assert _held(admin, reviewed.directory_id)["delivery"] == "review"
    assert _held(admin, reviewed.directory_id)["held_events"] == 1 + 8 + 8

    assert admin.post(f"/directories/{reviewed.directory_id}/held/release").json() == {
        "released": 17
    }
    seen = read_all(admin, cursor, directory_id=reviewed.directory_id)
    assert _types(seen) == [
        "directory.activated",
        *["user.created"] * 8,
        *["user.deactivated"] * 8,
        "directory.held_events_released",
    ]
    assert [event["data"]["user"]["id"] for event in seen[1:9]] == people
    cursor = seen[-1]["sequence"]
    created = reviewed.http.post("/Users", json=user("after-review@example.com"))
    assert _types(read_all(admin, cursor, directory_id=reviewed.directory_id)) == ["user.created"]
    assert created.status_code == 201


def test_the_share_rule_counts_users_once_and_spares_a_single_leaver(
    admin: httpx.Client, live_server: LiveServer
) -> None:
    small = new_directory(live_server, "small")
    people = _populate(small, 4)
    cursor = last_seq(live_server.engine)
    _deactivate(small, people[:1])  # a quarter of the directory, under the default 10 %
    assert _types(read_all(admin, cursor, directory_id=small.directory_id)) == ["user.deactivated"]
    assert _held(admin, small.directory_id)["delivery"] == "live"

    # 30 users, 20 %: six leavers are exactly 20 %, the seventh is more.
    large = new_directory(live_server, "large")
    people = _populate(large, 30)
    _configure(admin, large.directory_id, max_count=0, max_percent=20)
    cursor = last_seq(live_server.engine)
    _deactivate(large, people[:6])
    assert (
        _types(read_all(admin, cursor, directory_id=large.directory_id)) == ["user.deactivated"] * 6
    )
    _deactivate(large, people[6:7])
    assert _types(read_all(admin, cursor, directory_id=large.directory_id))[6:] == [
        "directory.deprovisioning_held"
    ]

    deleting = new_directory(live_server, "deleting")
    people = _populate(deleting, 10)
    _configure(admin, deleting.directory_id, max_count=0, max_percent=25)
    cursor = last_seq(live_server.engine)
    for user_id in people[:5]:
        assert deleting.http.delete(f"/Users/{user_id}").status_code == 204
    # Five deletions in a directory that had ten: 50 %, over 25 % once the rule's floor is met.
    assert _types(read_all(admin, cursor, directory_id=deleting.directory_id)) == [
        *["user.deleted"] * 4,
        "directory.deprovisioning_held",
    ]
    for client in (small, large, deleting):
        client.http.close()


def test_held_deprovisionings_raise_no_overdue_alert_until_released(
    scim: DirectoryClient, admin: httpx.Client, live_server: LiveServer
) -> None:
    """An overdue alert names the user: it must not tell the app what the valve holds back."""
    people = _populate(scim, 6)
    _configure(admin, scim.directory_id, max_count=1, max_percent=0)
    _deactivate(scim, people[:3])
    cursor = last_seq(live_server.engine)
    maintenance.raise_overdue_alerts(live_server.engine, timedelta(0))
    alerts = read_all(admin, cursor, directory_id=scim.directory_id)
    assert [event["data"]["deprovisioning"]["user_id"] for event in alerts] == people[:1]

    assert admin.post(f"/directories/{scim.directory_id}/held/release").json() == {"released": 2}
    cursor = last_seq(live_server.engine)
    maintenance.raise_overdue_alerts(live_server.engine, timedelta(0))
    alerts = read_all(admin, cursor, directory_id=scim.directory_id)
    assert [event["type"] for event in alerts] == ["offboarding.overdue"] * 2
    assert [event["data"]["deprovisioning"]["user_id"] for event in alerts] == people[1:3]
