"""Proof of offboarding: when the IdP asked, when the app was told, when it confirmed."""

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from conftest import DirectoryClient, LiveServer, new_directory
from event_support import last_seq, published, read_all
from factories import organization_of
from scim_payloads import group, patch, user
from scimgate.events.report import REPORT_COLUMNS
from scimgate.service.event_stream import safety
from scimgate.service.operations import maintenance
from scimgate.store import offboarding
from scimgate.store.transactions import reading

DEACTIVATE = patch({"op": "replace", "path": "active", "value": False})


def _report(
    admin: httpx.Client, organization_id: str, since: datetime, **params: Any
) -> httpx.Response:
    return admin.get(
        "/offboarding/report",
        params={"organization_id": organization_id, "since": since.isoformat(), **params},
    )


def _moment(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_each_deprovisioning_is_requested_notified_and_confirmed(
    scim: DirectoryClient, admin: httpx.Client, live_server: LiveServer
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    ids = {
        name: scim.http.post("/Users", json=user(name, active=True)).json()["id"]
        for name in ("ann", "bob", "cat", "dan")
    }
    app_users = scim.http.post("/Groups", json=group("App users", list(ids.values()))).json()["id"]
    assert (
        safety.set_assignment_group(live_server.engine, scim.directory_id, "App users") == app_users
    )
    cursor = last_seq(live_server.engine)

    # Three ways to leave: deactivated, deleted, taken out of the assignment group.
    assert scim.http.patch(f"/Users/{ids['ann']}", json=DEACTIVATE).status_code == 200
    assert scim.http.delete(f"/Users/{ids['bob']}").status_code == 204
    left = scim.http.patch(
        f"/Groups/{app_users}",
        json=patch({"op": "remove", "path": f'members[value eq "{ids["cat"]}"]'}),
    )
    assert left.status_code == 204
    assert scim.http.get(f"/Users/{ids['cat']}").json()["active"] is True
    told = [
        event
        for event in read_all(admin, cursor, directory_id=scim.directory_id)
        if event["type"] in ("user.deactivated", "user.deleted")
    ]
    assert [(event["data"]["user"]["id"], event["data"]["reason"]) for event in told] == [
        (ids["ann"], "deactivated"),
        (ids["bob"], "deleted"),
        (ids["cat"], "unassigned"),
    ]
    assert told[2]["data"]["user"]["state"] == "inactive"

    for name in ("ann", "bob", "cat"):
        confirmed = admin.post(f"/directories/{scim.directory_id}/users/{ids[name]}/access-revoked")
        assert confirmed.status_code == 200
        assert len(confirmed.json()["confirmed"]) == 1
    again = admin.post(f"/directories/{scim.directory_id}/users/{ids['ann']}/access-revoked")
    assert again.json() == {"confirmed": []}
    # Dan leaves last, and the app never confirms.
    assert scim.http.patch(f"/Users/{ids['dan']}", json=DEACTIVATE).status_code == 200
    until = datetime.now(UTC) + timedelta(seconds=1)

    organization_id = organization_of(live_server.engine, scim.directory_id)
    report = _report(admin, organization_id, since, until=until.isoformat())
    assert report.status_code == 200, report.text
    rows = report.json()["data"]
    assert [(row["user_id"], row["user_name"], row["reason"]) for row in rows] == [
        (ids["ann"], "ann", "deactivated"),
        (ids["bob"], "bob", "deleted"),
        (ids["cat"], "cat", "unassigned"),
        (ids["dan"], "dan", "deactivated"),
    ]
    for row, event in zip(rows, told, strict=False):
        assert row["event_id"] == event["id"]
        assert row["directory_id"] == scim.directory_id
        assert row["notified_via"] == "events_api"
        assert row["confirmed_via"] == "api"
        requested, notified, confirmed_at = (
            _moment(row[key]) for key in ("requested_at", "notified_at", "confirmed_at")
        )
        assert since <= requested <= notified <= confirmed_at <= until
    assert rows[3]["notified_at"] is None
    assert rows[3]["confirmed_at"] is None

    as_csv = _report(admin, organization_id, since, until=until.isoformat(), format="csv")
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert tuple(table[0].keys()) == REPORT_COLUMNS
    assert [line["user_id"] for line in table] == [row["user_id"] for row in rows]
    for line, row in zip(table[:3], rows[:3], strict=True):
        requested = _moment(row["requested_at"])
        assert float(line["seconds_to_notify"]) == round(
            (_moment(row["notified_at"]) - requested).total_seconds(), 3
        )
        assert float(line["seconds_to_confirm"]) == round(
            (_moment(row["confirmed_at"]) - requested).total_seconds(), 3
        )
        assert 0 <= float(line["seconds_to_notify"]) <= float(line["seconds_to_confirm"])
    assert (table[3]["seconds_to_notify"], table[3]["seconds_to_confirm"]) == ("", "")
    assert table[3]["confirmed_at"] == ""

    # The report's range is the time the IdP asked.
    later = (until + timedelta(hours=1)).isoformat()
    assert _report(admin, organization_id, until, until=later).json() == {"data": []}
    assert (
        len(_report(admin, organization_id, since, directory_id=scim.directory_id).json()["data"])
        == 4
    )


def test_an_organization_sees_only_its_own_deprovisionings(
    scim: DirectoryClient, admin: httpx.Client, live_server: LiveServer
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    other = new_directory(live_server, "other organization")
    for client, name in ((scim, "ours"), (other, "theirs")):
        user_id = client.http.post("/Users", json=user(name)).json()["id"]
        assert client.http.patch(f"/Users/{user_id}", json=DEACTIVATE).status_code == 200
    for client, name in ((scim, "ours"), (other, "theirs")):
        organization_id = organization_of(live_server.engine, client.directory_id)
        rows = _report(admin, organization_id, since).json()["data"]
        assert [(row["user_name"], row["directory_id"]) for row in rows] == [
            (name, client.directory_id)
        ]
    # Naming another organization's directory adds nothing.
    ours = organization_of(live_server.engine, scim.directory_id)
    assert _report(admin, ours, since, directory_id=other.directory_id).json() == {"data": []}
    missing = _report(admin, other.directory_id, since)
    assert missing.status_code == 404
    backwards = _report(admin, ours, since, until=(since - timedelta(hours=1)).isoformat())
    assert backwards.status_code == 400
    assert "end of the range" in backwards.json()["detail"]
    unknown = admin.post(f"/directories/{ours}/users/{ours}/access-revoked")
    assert unknown.status_code == 404
    other.http.close()


def test_overdue_deprovisionings_are_alerted_once(
    scim: DirectoryClient, admin: httpx.Client, live_server: LiveServer
) -> None:
    ids = [scim.http.post("/Users", json=user(name)).json()["id"] for name in ("ann", "bob", "cat")]
    for user_id in ids:
        assert scim.http.patch(f"/Users/{user_id}", json=DEACTIVATE).status_code == 200
    confirmed = admin.post(f"/directories/{scim.directory_id}/users/{ids[0]}/access-revoked")
    assert len(confirmed.json()["confirmed"]) == 1
    cursor = last_seq(live_server.engine)

    # Not yet overdue under the usual threshold.
    maintenance.raise_overdue_alerts(live_server.engine, timedelta(hours=1))
    assert published(live_server.engine, scim.directory_id, cursor) == []
    maintenance.raise_overdue_alerts(live_server.engine, timedelta(0))
    maintenance.raise_overdue_alerts(live_server.engine, timedelta(0))
    alerts = read_all(admin, cursor, directory_id=scim.directory_id)
    assert [event["type"] for event in alerts] == ["offboarding.overdue"] * 2
    records = [event["data"]["deprovisioning"] for event in alerts]
    assert [record["user_id"] for record in records] == ids[1:]
    assert all(record["confirmed_at"] is None for record in records)
    assert {record["reason"] for record in records} == {"deactivated"}


def test_a_deleted_user_keeps_a_tombstone(
    scim: DirectoryClient, admin: httpx.Client, live_server: LiveServer
) -> None:
    created = scim.http.post(
        "/Users", json=user("ann", externalId="ext-ann", title="Engineer")
    ).json()
    team = scim.http.post("/Groups", json=group("Team", [created["id"]])).json()["id"]
    cursor = last_seq(live_server.engine)
    assert scim.http.delete(f"/Users/{created['id']}").status_code == 204
    assert scim.http.get(f"/Users/{created['id']}").status_code == 404

    with reading(live_server.engine) as conn:
        last_state = offboarding.tombstone(conn, scim.directory_id, created["id"])
    assert last_state is not None
    assert last_state["username"] == "ann"
    assert last_state["idp_id"] == "ext-ann"
    assert last_state["job_title"] == "Engineer"
    assert last_state["state"] == "deleted"
    assert [g["id"] for g in last_state["groups"]] == [team]
    deleted = [
        event
        for event in read_all(admin, cursor, directory_id=scim.directory_id)
        if event["type"] == "user.deleted"
    ]
    assert deleted[0]["data"]["user"] == last_state
