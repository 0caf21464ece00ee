"""The normalized view reads the same person the same way, whichever IdP dialect sent it."""

import json

import httpx
from typer.testing import CliRunner

from conftest import ADMIN_TOKEN, DirectoryClient, LiveServer, new_directory
from scim_payloads import ENTERPRISE_SCHEMA, PATCH_SCHEMA, USER_SCHEMA, group
from scimgate.cli.main import app
from scimgate.scim.normalized import DirectoryUser, UserState
from scimgate.service.administration.directory_view import directory_users


def _entra(scim: DirectoryClient, manager_id: str) -> str:
    created = scim.http.post(
        "/Users",
        json={
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
            "externalId": "aad-object-1",
            "userName": "grace@contoso.com",
            "active": True,
            "emails": [
                {"type": "home", "value": "grace@home.example.com"},
                {"primary": True, "type": "work", "value": "grace@contoso.com"},
            ],
            "name": {"formatted": "Grace Hopper", "familyName": "Hopper", "givenName": "Grace"},
            "title": "Rear Admiral",
            ENTERPRISE_SCHEMA: {"department": "Navy"},
        },
    ).json()
    scim.http.patch(
        f"/Users/{created['id']}",
        json={
            "schemas": [PATCH_SCHEMA],
            "Operations": [
                {"op": "Add", "path": f"{ENTERPRISE_SCHEMA}:manager", "value": manager_id},
                {"op": "Replace", "path": "active", "value": "False"},
            ],
        },
    )
    return str(created["id"])


def _okta(scim: DirectoryClient, manager_id: str) -> str:
    created = scim.http.post(
        "/Users",
        json={
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
            "userName": "grace@contoso.com",
            "name": {"givenName": "Grace", "familyName": "Hopper"},
            "displayName": "Grace Hopper",
            # No primary flag: the work address is the one that counts.
            "emails": [
                {"value": "grace@contoso.com", "type": "work"},
                {"value": "grace@home.example.com", "type": "home"},
            ],
            "externalId": "aad-object-1",
            "title": "Rear Admiral",
            "groups": [],
            "password": "s3cret-S3cret",
            "active": True,
            ENTERPRISE_SCHEMA: {"department": "Navy", "manager": {"value": manager_id}},
        },
    ).json()
    scim.http.patch(
        f"/Users/{created['id']}",
        json={
            "schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "replace", "value": {"active": False}}],
        },
    )
    return str(created["id"])


def _grace(live_server: LiveServer, dialect: str) -> DirectoryUser:
    scim = new_directory(live_server, dialect)
    boss = scim.http.post("/Users", json={"schemas": [USER_SCHEMA], "userName": "boss@contoso.com"})
    grace_id = (_entra if dialect == "entra" else _okta)(scim, boss.json()["id"])
    scim.http.post("/Groups", json=group("Navy", [grace_id]))
    _, users = directory_users(live_server.engine, scim.directory_id, "http://x", count=10)
    return next(user for user in users if user.id == grace_id)


def test_the_same_person_reads_the_same_from_entra_and_okta(live_server: LiveServer) -> None:
    from_entra, from_okta = _grace(live_server, "entra"), _grace(live_server, "okta")
    for grace in (from_entra, from_okta):
        assert grace.username == "grace@contoso.com"
        assert grace.idp_id == "aad-object-1"
        assert grace.primary_email == "grace@contoso.com"
        assert set(grace.emails) == {"grace@contoso.com", "grace@home.example.com"}
        assert (grace.first_name, grace.last_name) == ("Grace", "Hopper")
        assert grace.display_name == "Grace Hopper"
        assert (grace.job_title, grace.department) == ("Rear Admiral", "Navy")
        assert grace.manager_id is not None
        assert grace.state is UserState.inactive
        assert [g.name for g in grace.groups] == ["Navy"]
        assert grace.raw["userName"] == "grace@contoso.com"
        assert grace.custom_attributes["employee_id"] is None
        assert "password" not in grace.raw


def test_users_list_command(live_server: LiveServer, database_url: str) -> None:
    scim = new_directory(live_server, "cli view")
    scim.http.post("/Users", json={"schemas": [USER_SCHEMA], "userName": "ann@example.com"})
    result = CliRunner().invoke(
        app, ["users", "list", scim.directory_id, "--json", "--database-url", database_url]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(row["username"], row["state"]) for row in rows] == [("ann@example.com", "active")]
    unknown = CliRunner().invoke(app, ["users", "list", "nope", "--database-url", database_url])
    assert unknown.exit_code != 0


def test_attribute_mappings(live_server: LiveServer, database_url: str) -> None:
    scim = new_directory(live_server, "mapped")
    scim.http.post(
        "/Users",
        json={
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
            "userName": "kim@example.com",
            "nickName": "Kimmy",
            "phoneNumbers": [{"value": "+1 555 0199", "type": "mobile"}],
            ENTERPRISE_SCHEMA: {"employeeNumber": "E-77", "costCenter": "CC-9"},
        },
    )
    runner = CliRunner()

    def invoke(*args: str) -> str:
        result = runner.invoke(app, [*args, "--database-url", database_url])
        assert result.exit_code == 0, result.output
        return result.output

    def kim() -> dict[str, object]:
        output = invoke("users", "list", scim.directory_id, "--json")
        return dict(json.loads(output)[0]["custom_attributes"])

    # The IdP's defaults apply until the directory says otherwise.
    assert kim()["employee_id"] == "E-77"
    assert kim()["cost_center"] == "CC-9"
    invoke("mappings", "set", scim.directory_id, "nickname", "nickName")
    invoke(
        "mappings", "set", scim.directory_id, "cost_center", 'phoneNumbers[type eq "mobile"].value'
    )
    assert (kim()["nickname"], kim()["cost_center"]) == ("Kimmy", "+1 555 0199")
    assert "nickname" in invoke("mappings", "list", scim.directory_id)
    invoke("mappings", "remove", scim.directory_id, "cost_center")
    assert kim()["cost_center"] == "CC-9"
    refused = runner.invoke(
        app, ["mappings", "set", scim.directory_id, "x", "shoeSize", "--database-url", database_url]
    )
    assert refused.exit_code != 0
    assert "shoeSize" in refused.output


def test_management_api_lists_normalized_users(live_server: LiveServer) -> None:
    scim = new_directory(live_server, "api view")
    bo = scim.http.post("/Users", json={"schemas": [USER_SCHEMA], "userName": "bo@example.com"})
    scim.http.post("/Groups", json={**group("Ops", [bo.json()["id"]]), "externalId": "g-ops"})
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    api = f"{live_server.url}/api/v1/directories"

    answered = httpx.get(f"{api}/{scim.directory_id}/users", headers=admin)
    assert answered.status_code == 200, answered.text
    page = answered.json()
    assert page["total"] == 1
    assert (page["users"][0]["username"], page["users"][0]["state"]) == ("bo@example.com", "active")
    assert page["users"][0]["raw"]["userName"] == "bo@example.com"
    assert [each["name"] for each in page["users"][0]["groups"]] == ["Ops"]

    groups = httpx.get(f"{api}/{scim.directory_id}/groups", headers=admin).json()
    assert groups["total"] == 1
    assert (groups["groups"][0]["name"], groups["groups"][0]["idp_id"]) == ("Ops", "g-ops")
    assert "members" not in groups["groups"][0]["raw"]

    assert httpx.get(f"{api}/{scim.directory_id}/users").status_code == 401
    wrong = {"Authorization": f"Bearer {scim.token}"}
    assert httpx.get(f"{api}/{scim.directory_id}/users", headers=wrong).status_code == 401
    assert httpx.get(f"{api}/not-a-directory/users", headers=admin).status_code == 404
