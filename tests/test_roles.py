"""Role mapping: groups give roles, recomputed with every membership, rename and rule change."""

import json

from sqlalchemy import select
from typer.testing import CliRunner

from conftest import DirectoryClient, LiveServer
from scim_payloads import PATCH_SCHEMA, group, user
from scimgate.cli.main import app
from scimgate.service.administration import roles
from scimgate.store import roles as role_rows
from scimgate.store.tables.event_stream import events
from scimgate.store.transactions import reading


def _roles(server: LiveServer, scim: DirectoryClient, user_id: str) -> list[str]:
    with reading(server.engine) as conn:
        return role_rows.roles_of(conn, scim.directory_id, [user_id])[user_id]


def _patch(scim: DirectoryClient, group_id: str, *operations: dict[str, object]) -> None:
    response = scim.http.patch(
        f"/Groups/{group_id}", json={"schemas": [PATCH_SCHEMA], "Operations": list(operations)}
    )
    assert response.status_code == 204, response.text


def test_roles_follow_memberships_renames_and_rules(
    scim: DirectoryClient, live_server: LiveServer
) -> None:
    engine = live_server.engine
    roles.add_rule(engine, scim.directory_id, "default", "", "member", 1000)
    roles.add_rule(engine, scim.directory_id, "group_name", "engineering", "developer", 10)
    admins_rule = roles.add_rule(
        engine, scim.directory_id, "group_external_id", "aad-admins", "admin", 1
    )

    ann = scim.http.post("/Users", json=user("ann@example.com")).json()["id"]
    assert _roles(live_server, scim, ann) == ["member"]

    engineering = scim.http.post("/Groups", json=group("Engineering", [ann])).json()["id"]
    assert _roles(live_server, scim, ann) == ["developer"]

    admins = scim.http.post("/Groups", json={**group("Admins"), "externalId": "aad-admins"})
    _patch(scim, admins.json()["id"], {"op": "add", "path": "members", "value": [{"value": ann}]})
    assert _roles(live_server, scim, ann) == ["admin", "developer"]

    # A rename takes the group out of the rule that named it.
    _patch(scim, engineering, {"op": "replace", "path": "displayName", "value": "R&D"})
    assert _roles(live_server, scim, ann) == ["admin"]

    # Changing the rules recomputes existing users.
    roles.remove_rule(engine, scim.directory_id, admins_rule.id)
    assert _roles(live_server, scim, ann) == ["member"]
    roles.add_rule(engine, scim.directory_id, "group_name", "R&D", "researcher", 5)
    assert _roles(live_server, scim, ann) == ["researcher"]

    # Leaving the group, or the group going away, falls back to the default role.
    _patch(scim, engineering, {"op": "remove", "path": f'members[value eq "{ann}"]'})
    assert _roles(live_server, scim, ann) == ["member"]

    with reading(engine) as conn:
        changed = conn.execute(
            select(events.c.data)
            .where(
                events.c.directory_id == scim.directory_id, events.c.type == "user.roles_changed"
            )
            .order_by(events.c.seq)
        ).scalars()
        history = [(row["previous_roles"], row["user"]["roles"]) for row in changed]
        created = conn.execute(
            select(events.c.data).where(
                events.c.directory_id == scim.directory_id, events.c.type == "user.created"
            )
        ).scalar_one()
    # A new user's first roles come with user.created, not as a change of roles.
    assert created["user"]["roles"] == ["member"]
    assert history == [
        (["member"], ["developer"]),
        (["developer"], ["admin", "developer"]),
        (["admin", "developer"], ["admin"]),
        (["admin"], ["member"]),
        (["member"], ["researcher"]),
        (["researcher"], ["member"]),
    ]


def test_deleting_a_group_recomputes_its_members(
    scim: DirectoryClient, live_server: LiveServer
) -> None:
    roles.add_rule(live_server.engine, scim.directory_id, "group_name", "Ops", "operator", 1)
    bob = scim.http.post("/Users", json=user("bob@example.com")).json()["id"]
    ops = scim.http.post("/Groups", json=group("ops", [bob])).json()["id"]
    assert _roles(live_server, scim, bob) == ["operator"]
    assert scim.http.delete(f"/Groups/{ops}").status_code == 204
    assert _roles(live_server, scim, bob) == []
    assert scim.http.delete(f"/Users/{bob}").status_code == 204


def test_roles_from_the_command_line(
    scim: DirectoryClient, live_server: LiveServer, database_url: str
) -> None:
    runner = CliRunner()

    def invoke(*args: str) -> str:
        result = runner.invoke(app, [*args, "--database-url", database_url])
        assert result.exit_code == 0, result.output
        return result.output

    cid = scim.http.post("/Users", json=user("cid@example.com")).json()["id"]
    scim.http.post("/Groups", json=group("Finance", [cid]))
    invoke("roles", "add", scim.directory_id, "accountant", "--group", "finance", "--priority", "5")
    invoke("roles", "add", scim.directory_id, "viewer", "--default")
    listed = invoke("roles", "list", scim.directory_id)
    assert "accountant" in listed and "viewer" in listed
    row = json.loads(invoke("users", "list", scim.directory_id, "--json"))[0]
    assert row["roles"] == ["accountant"]
    both = runner.invoke(
        app,
        ["roles", "add", scim.directory_id, "x", "--group", "a", "--default",
         "--database-url", database_url],
    )  # fmt: skip
    assert both.exit_code != 0
