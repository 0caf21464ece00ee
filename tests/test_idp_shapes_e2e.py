"""Requests as Microsoft Entra ID and Okta really send them (numbers refer to the shared
research list of IdP behaviours), accepted and answered in the shape those clients expect."""

from conftest import DirectoryClient
from scim_payloads import ENTERPRISE_SCHEMA, GROUP_SCHEMA, PATCH_SCHEMA, USER_SCHEMA, group, user

ADSCIM = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"


def _entra_user(user_name: str) -> dict[str, object]:
    """Entra's create body (items 9 and 25): read-only meta, empty roles, explicit nulls."""
    return {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7b2d5b8b1a01",
        "userName": user_name,
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Test User", "familyName": "User", "givenName": "Test"},
        "roles": [],
        "title": None,
        "addresses": None,
        ENTERPRISE_SCHEMA: {"employeeNumber": "42", "manager": None},
    }


def _patch(scim: DirectoryClient, path: str, *operations: dict[str, object]) -> dict[str, object]:
    response = scim.http.patch(
        path, json={"schemas": [PATCH_SCHEMA], "Operations": list(operations)}
    )
    assert response.status_code in (200, 204), response.text
    return response.json() if response.status_code == 200 else {}


def test_entra_user_lifecycle(scim: DirectoryClient) -> None:
    # Test connection: a random userName is an empty list, not a 404 (item 1).
    probe = scim.http.get("/Users", params={"filter": 'userName eq "7b0c2f9e-probe"'})
    assert probe.status_code == 200
    assert probe.json()["totalResults"] == 0

    created = scim.http.post("/Users", json=_entra_user("test.user@contoso.com"))
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]
    assert "title" not in created.json()

    manager_id = scim.http.post("/Users", json=user("boss@contoso.com")).json()["id"]
    # Capitalised ops, a string manager (item 19), filtered paths on values the user
    # does not have yet (item 18), and a URN-qualified path (item 15).
    patched = _patch(
        scim,
        f"/Users/{user_id}",
        {"op": "Add", "path": f"{ENTERPRISE_SCHEMA}:manager", "value": manager_id},
        {"op": "Add", "path": 'addresses[type eq "work"].locality', "value": "Redmond"},
        {"op": "Add", "path": 'addresses[type eq "work"].postalCode', "value": "98052"},
        {"op": "Replace", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+1 555 0100"},
        {"op": "Replace", "path": f"{ENTERPRISE_SCHEMA}:employeeNumber", "value": "43"},
        {"op": "Replace", "path": "name.givenName", "value": "Tess"},
    )
    assert patched[ENTERPRISE_SCHEMA]["manager"]["value"] == manager_id  # type: ignore[index]
    assert patched["addresses"] == [{"type": "work", "locality": "Redmond", "postalCode": "98052"}]
    assert patched["phoneNumbers"] == [{"type": "mobile", "value": "+1 555 0100"}]

    # Newer dialect: one no-path replace with dotted and URN-qualified keys (item 16).
    patched = _patch(
        scim,
        f"/Users/{user_id}",
        {
            "op": "replace",
            "value": {
                "name.familyName": "Userson",
                f"{ENTERPRISE_SCHEMA}:department": "Sales",
                "active": True,
            },
        },
    )
    assert patched["name"]["familyName"] == "Userson"  # type: ignore[index]
    assert patched[ENTERPRISE_SCHEMA]["department"] == "Sales"  # type: ignore[index]

    # Disable with a string boolean (item 20); the user is still found (item 21).
    disabled = _patch(
        scim, f"/Users/{user_id}", {"op": "Replace", "path": "active", "value": "False"}
    )
    assert disabled["active"] is False
    found = scim.http.get("/Users", params={"filter": 'userName eq "test.user@contoso.com"'}).json()
    assert found["Resources"][0]["active"] is False


def test_entra_group_lifecycle(scim: DirectoryClient) -> None:
    ann = scim.http.post("/Users", json=user("ann@contoso.com")).json()["id"]
    ben = scim.http.post("/Users", json=user("ben@contoso.com")).json()["id"]
    # Created empty, with Microsoft's group schema URN and read-only meta (item 27).
    created = scim.http.post(
        "/Groups",
        json={
            "schemas": [GROUP_SCHEMA, ADSCIM],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "Sales",
            "meta": {"resourceType": "Group"},
        },
    )
    assert created.status_code == 201, created.text
    group_id = created.json()["id"]
    lookup = scim.http.get(
        "/Groups", params={"excludedAttributes": "members", "filter": 'displayName eq "Sales"'}
    ).json()
    assert [g["id"] for g in lookup["Resources"]] == [group_id]
    assert "members" not in lookup["Resources"][0]

    # Adds with "$ref": null, several in one PATCH, answered 204 (items 29-31).
    added = scim.http.patch(
        f"/Groups/{group_id}",
        json={
            "schemas": [PATCH_SCHEMA],
            "Operations": [
                {"op": "Add", "path": "members", "value": [{"$ref": None, "value": ann}]},
                {"op": "Add", "path": "members", "value": [{"$ref": None, "value": ben}]},
            ],
        },
    )
    assert added.status_code == 204
    # Removal with a value list, the older dialect (item 29): only ann leaves.
    _patch(
        scim, f"/Groups/{group_id}", {"op": "Remove", "path": "members", "value": [{"value": ann}]}
    )
    members = scim.http.get(f"/Groups/{group_id}").json()["members"]
    assert [m["value"] for m in members] == [ben]
    # An empty value list removes nobody.
    _patch(scim, f"/Groups/{group_id}", {"op": "Remove", "path": "members", "value": []})
    assert len(scim.http.get(f"/Groups/{group_id}").json()["members"]) == 1


def test_okta_user_lifecycle(scim: DirectoryClient) -> None:
    headers = {"User-Agent": "Okta SCIM Client 1.0.0"}
    # Existence check with startIndex and count (item 36), then create with groups: [] and
    # a password (item 37).
    probe = scim.http.get(
        "/Users",
        params={"filter": 'userName eq "isabella@okta.example.com"', "startIndex": 1, "count": 100},
        headers=headers,
    )
    assert probe.json()["totalResults"] == 0
    created = scim.http.post(
        "/Users",
        headers=headers,
        json={
            "schemas": [USER_SCHEMA],
            "userName": "isabella@okta.example.com",
            "name": {"givenName": "Isabella", "familyName": "Rossi"},
            "emails": [{"primary": True, "value": "isabella@okta.example.com", "type": "work"}],
            "displayName": "Isabella Rossi",
            "locale": "en-US",
            "externalId": "00ujl29u0le5T6Aj10h7",
            "groups": [],
            "password": "1mz050nq",
            "active": True,
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["active"] is True and "password" not in body
    # Case-insensitive userName check (item 39).
    upper = scim.http.get("/Users", params={"filter": 'userName eq "ISABELLA@OKTA.EXAMPLE.COM"'})
    assert upper.json()["totalResults"] == 1
    # Profile update by PUT of the whole object, id, meta and groups included (item 43).
    body["title"] = "Director"
    replaced = scim.http.put(f"/Users/{body['id']}", json=body, headers=headers)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["title"] == "Director"
    # Deactivation: no-path replace, lowercase op (item 44), with an unchanged id (item 47).
    deactivated = _patch(
        scim,
        f"/Users/{body['id']}",
        {"op": "replace", "value": {"id": body["id"], "active": False}},
    )
    assert deactivated["active"] is False


def test_okta_group_push(scim: DirectoryClient) -> None:
    ann = scim.http.post("/Users", json=user("ann@okta.example.com")).json()["id"]
    ben = scim.http.post("/Users", json=user("ben@okta.example.com")).json()["id"]
    created = scim.http.post("/Groups", json={**group("Engineering"), "members": []})
    assert created.status_code == 201
    group_id = created.json()["id"]
    # Rename with the id in the value, and membership changes in one PATCH (items 47-48).
    _patch(
        scim,
        f"/Groups/{group_id}",
        {"op": "replace", "value": {"id": group_id, "displayName": "Engineering Team"}},
        {"op": "add", "path": "members", "value": [{"value": ann, "display": "ann"}]},
        {"op": "add", "path": "members", "value": [{"value": ben, "display": "ben"}]},
        {"op": "remove", "path": f'members[value eq "{ann}"]'},
    )
    body = scim.http.get(f"/Groups/{group_id}").json()
    assert body["displayName"] == "Engineering Team"
    assert [m["value"] for m in body["members"]] == [ben]
    # Full push (item 48), then unlink with delete (item 49).
    _patch(
        scim,
        f"/Groups/{group_id}",
        {"op": "replace", "path": "members", "value": [{"value": ann}]},
    )
    assert [m["value"] for m in scim.http.get(f"/Groups/{group_id}").json()["members"]] == [ann]
    assert scim.http.delete(f"/Groups/{group_id}").status_code == 204


def test_entra_filter_spellings(scim: DirectoryClient) -> None:
    created = scim.http.post("/Users", json={**user("a@b.example.com"), "externalId": "jyoung"})
    user_id = created.json()["id"]
    # An unquoted value, as in Microsoft's example (item 7).
    bare = scim.http.get("/Users", params={"filter": "externalId eq jyoung"})
    assert bare.status_code == 200, bare.text
    assert [r["id"] for r in bare.json()["Resources"]] == [user_id]
    # Form-encoded: spaces as '+', raw quotes, '@' percent-encoded (item 7).
    encoded = scim.http.get('/Users?filter=userName+eq+"a%40b.example.com"')
    assert [r["id"] for r in encoded.json()["Resources"]] == [user_id]
    # A feature flag appended to the URL is ignored (item 6).
    flagged = scim.http.get("/Users?aadOptscim062020", params={"filter": "externalId eq jyoung"})
    assert flagged.json()["totalResults"] == 1
    # A filter that stays wrong once quoted is still refused, with the original reason.
    wrong = scim.http.get("/Users", params={"filter": "externalId eq"})
    assert wrong.status_code == 400
    assert wrong.json()["scimType"] == "invalidFilter"


def test_active_directory_addresses_in_special_use_domains(scim: DirectoryClient) -> None:
    body = user("alice@corp.local", emails=[{"value": "alice@corp.local", "type": "work"}])
    created = scim.http.post("/Users", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["emails"][0]["value"] == "alice@corp.local"
    # Not an address at all: kept too (RFC 7643: SHOULD, not MUST), and flagged as
    # undeliverable in the normalized view (tests/test_lenient_input.py).
    malformed = scim.http.post("/Users", json=user("bob", emails=[{"value": "bob@"}]))
    assert malformed.status_code == 201, malformed.text
    assert malformed.json()["emails"][0]["value"] == "bob@"


def test_onelogin_manager_with_display_name(scim: DirectoryClient) -> None:
    """OneLogin sends the read-only manager.displayName (research item 53): ignored, not refused."""
    boss = scim.http.post("/Users", json=user("boss@onelogin.example.com")).json()["id"]
    body = {
        **user("kai@onelogin.example.com", nickName=""),
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        ENTERPRISE_SCHEMA: {"manager": {"value": boss, "displayName": "The Boss"}},
    }
    created = scim.http.post("/Users", json=body)
    assert created.status_code == 201, created.text
    manager = created.json()[ENTERPRISE_SCHEMA]["manager"]
    assert manager["value"] == boss
    assert manager["$ref"].endswith(f"/Users/{boss}")


def test_entra_matching_by_work_email_and_renames(scim: DirectoryClient) -> None:
    """Items 7 and 22: a filter on the work e-mail in Entra's spelling, and a userName rename."""
    created = scim.http.post(
        "/Users",
        json=user("old@contoso.com", emails=[{"type": "work", "value": "work@contoso.com"}]),
    ).json()
    found = scim.http.get(
        "/Users", params={"filter": 'emails[type eq "work"].value eq "WORK@contoso.com"'}
    ).json()
    assert [r["id"] for r in found["Resources"]] == [created["id"]]
    renamed = _patch(
        scim,
        f"/Users/{created['id']}",
        {"op": "Replace", "path": "userName", "value": "new@contoso.com"},
    )
    assert renamed["userName"] == "new@contoso.com"
    assert (
        scim.http.get("/Users", params={"filter": 'userName eq "old@contoso.com"'}).json()[
            "totalResults"
        ]
        == 0
    )


def test_okta_first_page_of_one(scim: DirectoryClient) -> None:
    """Items 40 and 59: integers in the envelope; a startIndex below 1 reads as 1."""
    first = scim.http.post("/Users", json=user("first@okta.example.com")).json()["id"]
    scim.http.post("/Users", json=user("second@okta.example.com"))
    for start in (1, 0, -3):
        page = scim.http.get("/Users", params={"count": 1, "startIndex": start}).json()
        assert (page["totalResults"], page["itemsPerPage"], page["startIndex"]) == (2, 1, 1)
        assert [r["id"] for r in page["Resources"]] == [first]


def test_one_entry_per_type_under_repeated_filtered_updates(scim: DirectoryClient) -> None:
    """Item 11: Entra updates ``emails[type eq "work"].value`` and the like every cycle;
    the first creates the entry, the next ones change it, and there is never a second one."""
    created = scim.http.post("/Users", json=user("rue@contoso.com")).json()
    for address, phone in (("rue@contoso.com", "+1 555 0100"), ("rue@fabrikam.com", "+1 555 0101")):
        for op in ("Add", "Replace"):
            _patch(
                scim,
                f"/Users/{created['id']}",
                {"op": op, "path": 'emails[type eq "work"].value', "value": address},
                {"op": op, "path": 'phoneNumbers[type eq "mobile"].value', "value": phone},
            )
    read = scim.http.get(f"/Users/{created['id']}").json()
    assert read["emails"] == [{"value": "rue@fabrikam.com", "type": "work"}]
    assert read["phoneNumbers"] == [{"value": "+1 555 0101", "type": "mobile"}]


def test_groups_sent_on_a_user_never_change_membership(scim: DirectoryClient) -> None:
    """Membership has one source, the group's ``members``: ``groups`` on a user (read-only,
    echoed back by Okta's PUT) is accepted and ignored, whichever way it is sent."""
    team = scim.http.post("/Groups", json=group("Team")).json()
    claimed = [{"value": team["id"], "display": "Team"}]
    created = scim.http.post("/Users", json=user("uma@example.com", groups=claimed))
    assert created.status_code == 201, created.text
    assert "groups" not in created.json()
    location = f"/Users/{created.json()['id']}"
    replaced = scim.http.put(location, json=user("uma@example.com", groups=claimed))
    assert replaced.status_code == 200, replaced.text
    patched = scim.http.patch(
        location, json={"schemas": [PATCH_SCHEMA], "Operations": [
            {"op": "replace", "value": {"groups": claimed, "title": "Lead"}}
        ]},
    )  # fmt: skip
    assert patched.status_code == 200, patched.text
    assert "groups" not in scim.http.get(location).json()
    assert "members" not in scim.http.get(f"/Groups/{team['id']}").json()
    by_path = scim.http.patch(
        location,
        json={"schemas": [PATCH_SCHEMA], "Operations": [
            {"op": "add", "path": "groups", "value": claimed}
        ]},
    )  # fmt: skip
    assert by_path.status_code == 400
    assert by_path.json()["scimType"] == "mutability"
    assert "PATCH /Groups/{id}" in by_path.json()["detail"]
