"""Lifecycles as Google Workspace, OneLogin, JumpCloud, Rippling and PingFederate send them.

Their public material is thinner than Entra's and Okta's (research items 52 to
56); each test follows what is documented, cited by item number.
"""

from typing import Any

from conftest import DirectoryClient, LiveServer
from scim_payloads import ENTERPRISE_SCHEMA, USER_SCHEMA, group, patch, user
from scimgate.service.administration.directory_view import directory_users


def _only(scim: DirectoryClient, endpoint: str, scim_filter: str) -> list[dict[str, Any]]:
    found = scim.http.get(endpoint, params={"filter": scim_filter})
    assert found.status_code == 200, found.text
    return list(found.json().get("Resources", []))


def test_google_workspace_probe_then_users_only(scim: DirectoryClient) -> None:
    """Item 52: "Continue" probes ``GET /Users?count=1``; then users are pushed, never groups."""
    probe = scim.http.get("/Users", params={"count": 1})
    assert probe.status_code == 200
    assert probe.json()["totalResults"] == 0

    body = {
        **user("li@google.example.com", active=True),
        "name": {"givenName": "Li", "familyName": "Wei"},
        "emails": [{"value": "li@google.example.com", "type": "work", "primary": True}],
    }
    created = scim.http.post("/Users", json=body)
    assert created.status_code == 201, created.text
    suspended = scim.http.patch(
        f"/Users/{created.json()['id']}",
        json=patch({"op": "replace", "path": "active", "value": False}),
    )
    assert suspended.json()["active"] is False
    assert scim.http.get("/Users", params={"count": 1}).json()["totalResults"] == 1


def test_onelogin_template_with_empty_placeholders(
    live_server: LiveServer, scim: DirectoryClient
) -> None:
    """Item 53: the admin's JSON template, its empty ``{$parameters.*}`` sent as "",
    ``id: null``, read-only ``meta``, ``active`` as a string and the SCIM 1.1 ``managerId``."""
    boss = scim.http.post("/Users", json=user("boss@onelogin.example.com")).json()["id"]

    def template(user_name: str, manager_id: str, title: str) -> dict[str, Any]:
        return {
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
            "id": None,
            "meta": {"resourceType": "User"},
            "userName": user_name,
            "active": "true",
            "name": {"familyName": "Ng", "givenName": "Ana", "formatted": "Ana Ng"},
            "title": title,
            "userType": "",
            "emails": [{"value": user_name, "type": "work", "primary": True}],
            "addresses": [{"locality": "", "region": "", "country": ""}],
            ENTERPRISE_SCHEMA: {
                "department": "",
                "manager": {"managerId": manager_id, "displayName": "Boss Person"},
            },
        }

    created = scim.http.post("/Users", json=template("ana@onelogin.example.com", boss, ""))
    assert created.status_code == 201, created.text
    ana = created.json()
    assert ana["active"] is True
    assert ana[ENTERPRISE_SCHEMA]["manager"]["value"] == boss

    _, found = directory_users(live_server.engine, scim.directory_id, live_server.url, count=10)
    viewed = next(each for each in found if each.id == ana["id"])
    assert (viewed.job_title, viewed.department, viewed.manager_id) == (None, None, boss)

    # OneLogin updates with the same template; an empty managerId clears the manager.
    replaced = scim.http.put(
        f"/Users/{ana['id']}", json=template("ana@onelogin.example.com", "", "Engineer")
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["title"] == "Engineer"
    assert "manager" not in replaced.json().get(ENTERPRISE_SCHEMA, {})


def test_jumpcloud_test_connection_then_entra_style_membership(scim: DirectoryClient) -> None:
    """Item 54: Test Connection creates a test user and group and deletes them; members
    are patched with a ``value`` list and no filter."""
    probe_user = scim.http.post("/Users", json=user("jctest@jumpcloud.example.com"))
    probe_group = scim.http.post("/Groups", json=group("JumpCloud Test Group"))
    assert (probe_user.status_code, probe_group.status_code) == (201, 201)
    assert scim.http.delete(f"/Users/{probe_user.json()['id']}").status_code == 204
    assert scim.http.delete(f"/Groups/{probe_group.json()['id']}").status_code == 204
    assert scim.http.get("/Groups").json()["totalResults"] == 0

    people = [scim.http.post("/Users", json=user(f"p{n}@jc.example.com")).json() for n in range(3)]
    team = scim.http.post("/Groups", json=group("Support")).json()
    added = scim.http.patch(
        f"/Groups/{team['id']}",
        json=patch({"op": "add", "path": "members", "value": [{"value": p["id"]} for p in people]}),
    )
    assert added.status_code in (200, 204), added.text
    removed = scim.http.patch(
        f"/Groups/{team['id']}",
        json=patch({"op": "remove", "path": "members", "value": [{"value": people[0]["id"]}]}),
    )
    assert removed.status_code in (200, 204), removed.text
    members = scim.http.get(f"/Groups/{team['id']}").json()["members"]
    assert sorted(m["value"] for m in members) == sorted(p["id"] for p in people[1:])


def test_rippling_probe_and_idempotent_retries(scim: DirectoryClient) -> None:
    """Item 55: Test connection reads ``/ServiceProviderConfig``; a retried create finds
    the user already there (409) and the client resolves it by filter; groups by PATCH."""
    config = scim.http.get("/ServiceProviderConfig")
    assert config.status_code == 200
    assert config.json()["patch"]["supported"] is True

    body = {
        **user("sam@rippling.example.com"),
        "externalId": "rippling-1",
        "name": {"givenName": "Sam", "familyName": "Ito"},
        "emails": [{"value": "sam@rippling.example.com", "primary": True}],
    }
    first = scim.http.post("/Users", json=body)
    retried = scim.http.post("/Users", json=body)
    assert (first.status_code, retried.status_code) == (201, 409)
    assert retried.json()["scimType"] == "uniqueness"
    assert [u["id"] for u in _only(scim, "/Users", 'externalId eq "rippling-1"')] == [
        first.json()["id"]
    ]

    crew = scim.http.post("/Groups", json=group("Crew")).json()
    for _ in range(2):  # the retried membership change is the same change
        again = scim.http.patch(
            f"/Groups/{crew['id']}",
            json=patch(
                {"op": "add", "path": "members", "value": [{"value": first.json()["id"]}]},
                {"op": "replace", "path": "displayName", "value": "Crew A"},
            ),
        )
        assert again.status_code in (200, 204), again.text
    read = scim.http.get(f"/Groups/{crew['id']}").json()
    assert (read["displayName"], len(read["members"])) == ("Crew A", 1)


def test_pingfederate_synchronisation(scim: DirectoryClient) -> None:
    """Item 56: PingFederate's provisioner looks a user up by userName, creates, updates
    with PUT, keeps group names and memberships in step, and deprovisions by ``active``."""
    assert _only(scim, "/Users", 'userName eq "max@ping.example.com"') == []
    created = scim.http.post("/Users", json=user("max@ping.example.com", active=True)).json()
    updated = scim.http.put(
        f"/Users/{created['id']}",
        json=user("max@ping.example.com", active=True, title="Analyst", externalId="pf-9"),
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["title"] == "Analyst"

    assert _only(scim, "/Groups", 'displayName eq "Analysts"') == []
    analysts = scim.http.post("/Groups", json=group("Analysts", [created["id"]])).json()
    renamed = scim.http.patch(
        f"/Groups/{analysts['id']}",
        json=patch({"op": "replace", "path": "displayName", "value": "Risk Analysts"}),
    )
    assert renamed.status_code in (200, 204)
    groups = scim.http.get(f"/Users/{created['id']}").json()["groups"]
    assert [g["display"] for g in groups] == ["Risk Analysts"]

    gone = scim.http.put(
        f"/Users/{created['id']}",
        json=user("max@ping.example.com", active=False, externalId="pf-9"),
    )
    assert gone.json()["active"] is False
    assert "title" not in gone.json()
