"""Deprovisioning beyond ``active: false``: assignment groups, tombstones, erasure, dry runs."""

import json
from datetime import timedelta

import httpx
from sqlalchemy import select
from typer.testing import CliRunner

from conftest import DirectoryClient, LiveServer
from scim_payloads import group, patch, user
from scimgate.cli.main import app
from scimgate.config import EventSettings, LogPolicy
from scimgate.service.administration import tenants
from scimgate.service.operations import maintenance
from scimgate.store import offboarding
from scimgate.store.tables.event_stream import events
from scimgate.store.tables.offboarding import deprovisionings
from scimgate.store.transactions import reading

runner = CliRunner()


def _events(server: LiveServer, directory_id: str) -> list[tuple[str, str | None, dict]]:  # type: ignore[type-arg]
    with reading(server.engine) as conn:
        rows = conn.execute(
            select(events.c.type, events.c.resource_id, events.c.data)
            .where(events.c.directory_id == directory_id)
            .order_by(events.c.seq)
        )
        return [(row.type, row.resource_id, dict(row.data)) for row in rows]


def _new_events(server: LiveServer, scim: DirectoryClient, seen: int) -> list[tuple[str, str]]:
    return [
        (kind, str(data.get("reason")))
        for kind, _, data in _events(server, scim.directory_id)[seen:]
        if kind.startswith("user.")
    ]


def _cli(server: LiveServer, database_url: str, *args: str) -> str:
    result = runner.invoke(app, [*args, "--database-url", database_url])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_assignment_group_decides_who_may_use_the_app(
    scim: DirectoryClient, live_server: LiveServer, database_url: str, admin: httpx.Client
) -> None:
    ids = [scim.http.post("/Users", json=user(name)).json()["id"] for name in ("ann", "bob", "cy")]
    ann, bob, cy = ids
    app_users = scim.http.post("/Groups", json=group("App users", [ann, bob])).json()["id"]

    seen = len(_events(live_server, scim.directory_id))
    _cli(live_server, database_url, "directories", "configure", scim.directory_id,
         "--assignment-group", "app USERS", "--safety-max-percent", "0")  # fmt: skip
    assert _new_events(live_server, scim, seen) == [("user.deactivated", "unassigned")]
    listed = admin.get(f"/directories/{scim.directory_id}/users").json()["users"]
    assert {u["username"]: u["state"] for u in listed} == {
        "ann": "active",
        "bob": "active",
        "cy": "inactive",
    }

    seen = len(_events(live_server, scim.directory_id))
    removal = patch({"op": "remove", "path": f'members[value eq "{ann}"]'})
    assert scim.http.patch(f"/Groups/{app_users}", json=removal).status_code == 204
    assert ("user.deactivated", "unassigned") in _new_events(live_server, scim, seen)

    seen = len(_events(live_server, scim.directory_id))
    back = patch({"op": "add", "path": "members", "value": [{"value": ann}, {"value": cy}]})
    assert scim.http.patch(f"/Groups/{app_users}", json=back).status_code == 204
    assert _new_events(live_server, scim, seen).count(("user.reactivated", "None")) == 2

    # A user the IdP deactivated stays inactive when assigned: nothing to reactivate.
    scim.http.patch(
        f"/Users/{bob}", json=patch({"op": "replace", "path": "active", "value": False})
    )
    seen = len(_events(live_server, scim.directory_id))
    assert scim.http.delete(f"/Groups/{app_users}").status_code == 204
    assert sorted(_new_events(live_server, scim, seen)) == [
        ("user.deactivated", "unassigned"),
        ("user.deactivated", "unassigned"),
    ]
    with reading(live_server.engine) as conn:
        reasons = conn.execute(
            select(deprovisionings.c.user_id, deprovisionings.c.reason).where(
                deprovisionings.c.directory_id == scim.directory_id
            )
        ).all()
    assert sorted(reasons) == sorted(
        [(cy, "unassigned"), (ann, "unassigned"), (bob, "deactivated"), (ann, "unassigned"),
         (cy, "unassigned")]
    )  # fmt: skip


def test_a_deleted_user_leaves_a_tombstone_until_retention(
    scim: DirectoryClient, live_server: LiveServer
) -> None:
    dan = scim.http.post("/Users", json=user("dan", displayName="Dan Brown")).json()["id"]
    team = scim.http.post("/Groups", json=group("Team", [dan])).json()["id"]
    assert scim.http.delete(f"/Users/{dan}").status_code == 204

    kinds = [(kind, resource) for kind, resource, _ in _events(live_server, scim.directory_id)]
    assert kinds[-2:] == [("group.user_removed", dan), ("user.deleted", dan)]
    deleted = _events(live_server, scim.directory_id)[-1][2]
    assert deleted["reason"] == "deleted"
    assert deleted["user"]["state"] == "deleted"
    assert deleted["user"]["groups"] == [{"id": team, "name": "Team"}]

    with reading(live_server.engine) as conn:
        tombstone = offboarding.tombstone(conn, scim.directory_id, dan)
    assert tombstone is not None and tombstone["display_name"] == "Dan Brown"

    maintenance.run_upkeep(live_server.engine, EventSettings(tombstone_days=0), LogPolicy())
    with reading(live_server.engine) as conn:
        assert offboarding.tombstone(conn, scim.directory_id, dan) is None


def test_purge_erases_a_users_personal_data(
    scim: DirectoryClient, live_server: LiveServer, database_url: str
) -> None:
    eve = scim.http.post(
        "/Users", json=user("eve@acme.com", emails=[{"value": "eve@acme.com", "primary": True}])
    ).json()["id"]
    team = scim.http.post("/Groups", json=group("Team", [eve])).json()["id"]
    scim.http.patch(f"/Users/{eve}", json=patch({"op": "replace", "path": "title", "value": "CFO"}))

    refused = runner.invoke(
        app, ["users", "purge", scim.directory_id, eve, "--yes", "--database-url", database_url]
    )
    assert refused.exit_code == 1 and "active" in refused.output

    scim.http.patch(
        f"/Users/{eve}", json=patch({"op": "replace", "path": "active", "value": False})
    )
    output = _cli(live_server, database_url, "users", "purge", scim.directory_id, eve, "--yes")
    assert "Deleted user" in output and "Erased user" in output

    assert scim.http.get(f"/Users/{eve}").status_code == 404
    about_eve = [data for _, resource, data in _events(live_server, scim.directory_id)
                 if resource == eve]  # fmt: skip
    assert len(about_eve) >= 4  # created, added to Team, updated, deactivated, removed, deleted
    assert "eve@acme.com" not in json.dumps(about_eve)
    assert "CFO" not in json.dumps(about_eve)
    assert all(data["user"]["id"] == eve for data in about_eve)
    group_added = [data for kind, resource, data in _events(live_server, scim.directory_id)
                   if kind == "group.user_added" and resource == eve]  # fmt: skip
    assert group_added[0]["group"]["id"] == team
    with reading(live_server.engine) as conn:
        assert offboarding.tombstone(conn, scim.directory_id, eve) is None
        names = conn.execute(
            select(deprovisionings.c.user_name).where(deprovisionings.c.user_id == eve)
        ).scalars()
        assert set(names) == {None}

    again = runner.invoke(
        app, ["users", "purge", scim.directory_id, eve, "--yes", "--database-url", database_url]
    )
    assert again.exit_code == 2 and "no user" in again.output  # an unknown id: a usage error


def test_a_dry_run_directory_holds_everything_until_released(
    live_server: LiveServer, database_url: str
) -> None:
    organization = tenants.create_organization(live_server.engine, "Dry Org")
    output = _cli(live_server, database_url, "directories", "create", "Pilot", "--org",
                  organization.id, "--dry-run", "--base-url", live_server.url)  # fmt: skip
    directory_id = output.split("Directory:")[1].split()[0]
    token = output.split("Bearer token:")[1].split()[0]
    http = httpx.Client(
        base_url=f"{live_server.url}/scim/v2/{directory_id}",
        headers={"Authorization": f"Bearer {token}"},
    )
    for name in ("fay", "gus"):
        assert http.post("/Users", json=user(name)).status_code == 201
    assert _events(live_server, directory_id) == []
    assert "held events: 3" in _cli(live_server, database_url, "held", "status", directory_id)

    assert "Released 3 events" in _cli(live_server, database_url, "held", "release", directory_id)
    kinds = [kind for kind, _, _ in _events(live_server, directory_id)]
    assert kinds == [
        "directory.activated",
        "user.created",
        "user.created",
        "directory.held_events_released",
    ]
    assert http.post("/Users", json=user("hal")).status_code == 201
    assert [kind for kind, _, _ in _events(live_server, directory_id)][-1] == "user.created"

    listed = _cli(live_server, database_url, "events", "list", "--directory", directory_id,
                  "--json")  # fmt: skip
    assert [event["type"] for event in json.loads(listed)] == [*kinds, "user.created"]
    http.close()


def test_the_offboarding_report_from_the_command_line(
    scim: DirectoryClient, live_server: LiveServer, database_url: str
) -> None:
    ivy = scim.http.post("/Users", json=user("ivy")).json()["id"]
    scim.http.patch(
        f"/Users/{ivy}", json=patch({"op": "replace", "path": "active", "value": False})
    )
    _cli(live_server, database_url, "events", "list", "--directory", scim.directory_id)
    _cli(live_server, database_url, "offboarding", "confirm", scim.directory_id, ivy)
    with reading(live_server.engine) as conn:
        organization_id = conn.execute(
            select(deprovisionings.c.organization_id).where(deprovisionings.c.user_id == ivy)
        ).scalar_one()
    csv_text = _cli(live_server, database_url, "offboarding", "report", "--org", organization_id,
                    "--format", "csv")  # fmt: skip
    header, row = csv_text.strip().splitlines()
    values = dict(zip(header.split(","), row.split(","), strict=True))
    assert values["user_name"] == "ivy" and values["reason"] == "deactivated"
    assert values["notified_via"] == "events_api" and values["confirmed_via"] == "api"
    assert float(values["seconds_to_notify"]) <= float(values["seconds_to_confirm"])
    assert timedelta(seconds=float(values["seconds_to_confirm"])) < timedelta(minutes=5)
