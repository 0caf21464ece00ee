"""Groups and membership over HTTP against a live server, on each backend."""

from conftest import DirectoryClient
from scim_payloads import group, patch, user


def _users(scim: DirectoryClient, *names: str) -> list[str]:
    return [scim.http.post("/Users", json=user(name)).json()["id"] for name in names]


def _member_ids(scim: DirectoryClient, group_id: str) -> set[str]:
    return {
        member["value"] for member in scim.http.get(f"/Groups/{group_id}").json().get("members", [])
    }


def test_create_group_with_members_and_read_both_sides(scim: DirectoryClient) -> None:
    ann, ben = _users(scim, "ann", "ben")
    created = scim.http.post("/Groups", json=group("Engineering", [ann, ben]))
    assert created.status_code == 201
    body = created.json()
    assert {m["value"] for m in body["members"]} == {ann, ben}
    assert {m["type"] for m in body["members"]} == {"User"}
    ann_groups = scim.http.get(f"/Users/{ann}").json()["groups"]
    assert ann_groups == [
        {
            "value": body["id"],
            "display": "Engineering",
            "type": "direct",
            "$ref": f"{scim.base_url}/Groups/{body['id']}",
        }
    ]


def test_patch_members_one_at_a_time_returns_204(scim: DirectoryClient) -> None:
    ann, ben = _users(scim, "ann", "ben")
    group_id = scim.http.post("/Groups", json=group("Sales", [ann])).json()["id"]
    before = scim.http.get(f"/Groups/{group_id}").json()["meta"]["version"]

    added = scim.http.patch(
        f"/Groups/{group_id}",
        json=patch({"op": "Add", "path": "members", "value": [{"value": ben}]}),
    )
    assert added.status_code == 204
    assert added.content == b""
    assert _member_ids(scim, group_id) == {ann, ben}

    removed = scim.http.patch(
        f"/Groups/{group_id}",
        json=patch({"op": "Remove", "path": f'members[value eq "{ann}"]'}),
    )
    assert removed.status_code == 204
    assert _member_ids(scim, group_id) == {ben}
    assert scim.http.get(f"/Groups/{group_id}").json()["meta"]["version"] != before


def test_readding_a_member_is_a_success_that_changes_nothing(scim: DirectoryClient) -> None:
    (ann,) = _users(scim, "ann")
    group_id = scim.http.post("/Groups", json=group("Ops", [ann])).json()["id"]
    version = scim.http.get(f"/Groups/{group_id}").json()["meta"]["version"]
    again = scim.http.patch(
        f"/Groups/{group_id}",
        json=patch({"op": "add", "path": "members", "value": [{"value": ann}]}),
    )
    assert again.status_code == 204
    assert scim.http.get(f"/Groups/{group_id}").json()["meta"]["version"] == version


def test_patch_with_attributes_returns_the_group(scim: DirectoryClient) -> None:
    (ann,) = _users(scim, "ann")
    group_id = scim.http.post("/Groups", json=group("HR")).json()["id"]
    response = scim.http.patch(
        f"/Groups/{group_id}",
        params={"attributes": "displayName,members"},
        json=patch(
            {"op": "replace", "path": "displayName", "value": "People"},
            {"op": "add", "path": "members", "value": [{"value": ann}]},
        ),
    )
    assert response.status_code == 200
    assert response.json()["displayName"] == "People"
    assert [m["value"] for m in response.json()["members"]] == [ann]


def test_no_path_replace_of_members_and_name(scim: DirectoryClient) -> None:
    ann, ben, cat = _users(scim, "ann", "ben", "cat")
    group_id = scim.http.post("/Groups", json=group("Team", [ann, ben])).json()["id"]
    response = scim.http.patch(
        f"/Groups/{group_id}",
        json=patch(
            {"op": "replace", "value": {"displayName": "Team B", "members": [{"value": cat}]}}
        ),
    )
    assert response.status_code == 204
    body = scim.http.get(f"/Groups/{group_id}").json()
    assert body["displayName"] == "Team B"
    assert {m["value"] for m in body["members"]} == {cat}


def test_remove_all_members_and_remove_by_display(scim: DirectoryClient) -> None:
    ann, ben = _users(scim, "ann", "ben")
    group_id = scim.http.post("/Groups", json=group("Team", [ann, ben])).json()["id"]
    by_display = scim.http.patch(
        f"/Groups/{group_id}", json=patch({"op": "remove", "path": 'members[display eq "ANN"]'})
    )
    assert by_display.status_code == 204
    assert _member_ids(scim, group_id) == {ben}
    everyone = scim.http.patch(
        f"/Groups/{group_id}", json=patch({"op": "remove", "path": "members"})
    )
    assert everyone.status_code == 204
    assert _member_ids(scim, group_id) == set()


def test_unknown_member_is_refused_and_nothing_changes(scim: DirectoryClient) -> None:
    (ann,) = _users(scim, "ann")
    group_id = scim.http.post("/Groups", json=group("Team", [ann])).json()["id"]
    refused = scim.http.patch(
        f"/Groups/{group_id}",
        json=patch(
            {"op": "replace", "path": "displayName", "value": "Renamed"},
            {"op": "add", "path": "members", "value": [{"value": "no-such-user"}]},
        ),
    )
    assert refused.status_code == 400
    assert refused.json()["scimType"] == "invalidValue"
    assert "no-such-user" in refused.json()["detail"]
    body = scim.http.get(f"/Groups/{group_id}").json()
    assert body["displayName"] == "Team"
    assert {m["value"] for m in body["members"]} == {ann}


def test_excluded_members_and_nested_groups(scim: DirectoryClient) -> None:
    (ann,) = _users(scim, "ann")
    inner = scim.http.post("/Groups", json=group("Inner", [ann])).json()["id"]
    outer = scim.http.post("/Groups", json=group("Outer", [inner])).json()
    assert outer["members"][0]["type"] == "Group"
    slim = scim.http.get(f"/Groups/{outer['id']}", params={"excludedAttributes": "members"})
    assert "members" not in slim.json()
    assert slim.json()["displayName"] == "Outer"
    listed = scim.http.get(
        "/Groups", params={"excludedAttributes": "members", "filter": 'displayName eq "outer"'}
    ).json()
    assert listed["totalResults"] == 1
    assert "members" not in listed["Resources"][0]


def test_deleting_a_user_removes_its_memberships(scim: DirectoryClient) -> None:
    ann, ben = _users(scim, "ann", "ben")
    group_id = scim.http.post("/Groups", json=group("Team", [ann, ben])).json()["id"]
    assert scim.http.delete(f"/Users/{ann}").status_code == 204
    assert _member_ids(scim, group_id) == {ben}


def test_put_group_replaces_members(scim: DirectoryClient) -> None:
    ann, ben = _users(scim, "ann", "ben")
    group_id = scim.http.post("/Groups", json=group("Team", [ann])).json()["id"]
    replaced = scim.http.put(f"/Groups/{group_id}", json=group("Team 2", [ben]))
    assert replaced.status_code == 200
    assert replaced.json()["displayName"] == "Team 2"
    assert {m["value"] for m in replaced.json()["members"]} == {ben}
    assert scim.http.get(f"/Users/{ann}").json().get("groups") is None
    assert scim.http.delete(f"/Groups/{group_id}").status_code == 204
    assert scim.http.get(f"/Groups/{group_id}").status_code == 404
    assert scim.http.get(f"/Users/{ben}").json().get("groups") is None
