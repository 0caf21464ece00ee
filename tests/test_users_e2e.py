"""Users over HTTP against a live server, on each backend."""

from conftest import DirectoryClient
from scim_payloads import ENTERPRISE_SCHEMA, PATCH_SCHEMA, USER_SCHEMA, patch, user


def test_create_find_deactivate_delete(scim: DirectoryClient) -> None:
    created = scim.http.post(
        "/Users",
        json={"schemas": [USER_SCHEMA], "userName": "alice@acme.com", "active": True},
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert created.headers["location"] == f"{scim.base_url}/Users/{user['id']}"
    assert created.headers["content-type"].startswith("application/scim+json")

    found = scim.http.get("/Users", params={"filter": 'userName eq "ALICE@acme.com"'}).json()
    assert found["totalResults"] == 1
    assert found["Resources"][0]["id"] == user["id"]

    patched = scim.http.patch(
        f"/Users/{user['id']}",
        json={
            "schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "replace", "path": "active", "value": False}],
        },
    )
    assert patched.status_code == 200
    assert patched.json()["active"] is False
    assert patched.json()["meta"]["version"] != user["meta"]["version"]

    assert scim.http.delete(f"/Users/{user['id']}").status_code == 204
    assert scim.http.get(f"/Users/{user['id']}").status_code == 404


def test_user_name_is_unique_regardless_of_case(scim: DirectoryClient) -> None:
    first = scim.http.post("/Users", json=user("Bob@Acme.com"))
    assert first.status_code == 201
    second = scim.http.post("/Users", json=user("bob@acme.COM"))
    assert second.status_code == 409
    assert second.json()["scimType"] == "uniqueness"
    assert first.json()["id"] in second.json()["detail"]


def test_put_replaces_and_keeps_id_and_created(scim: DirectoryClient) -> None:
    created = scim.http.post(
        "/Users", json=user("carol", title="Engineer", externalId="c-1", nickName="C")
    ).json()
    replaced = scim.http.put(
        f"/Users/{created['id']}", json=user("carol", title="Manager", externalId="c-1")
    )
    assert replaced.status_code == 200
    body = replaced.json()
    assert body["id"] == created["id"]
    assert body["title"] == "Manager"
    assert "nickName" not in body
    assert body["meta"]["created"] == created["meta"]["created"]
    assert scim.http.get(f"/Users/{created['id']}").json()["title"] == "Manager"


def test_noop_write_keeps_the_version(scim: DirectoryClient) -> None:
    created = scim.http.post("/Users", json=user("dave", title="Engineer")).json()
    again = scim.http.put(f"/Users/{created['id']}", json=user("dave", title="Engineer")).json()
    assert again["meta"]["version"] == created["meta"]["version"]
    assert again["meta"]["lastModified"] == created["meta"]["lastModified"]


def test_password_is_accepted_and_never_returned(scim: DirectoryClient) -> None:
    created = scim.http.post("/Users", json=user("erin", password="hunter2!"))
    assert created.status_code == 201
    assert "password" not in created.json()
    assert "password" not in scim.http.get(f"/Users/{created.json()['id']}").json()


def test_enterprise_extension_round_trips_and_filters(scim: DirectoryClient) -> None:
    body = user(
        "frank",
        **{ENTERPRISE_SCHEMA: {"employeeNumber": "701", "department": "R&D"}},
    )
    body["schemas"].append(ENTERPRISE_SCHEMA)
    created = scim.http.post("/Users", json=body).json()
    assert created[ENTERPRISE_SCHEMA]["employeeNumber"] == "701"
    found = scim.http.get(
        "/Users", params={"filter": f'{ENTERPRISE_SCHEMA}:employeeNumber eq "701"'}
    ).json()
    assert [r["id"] for r in found["Resources"]] == [created["id"]]


def test_patch_is_atomic(scim: DirectoryClient) -> None:
    created = scim.http.post("/Users", json=user("gina", title="Engineer")).json()
    refused = scim.http.patch(
        f"/Users/{created['id']}",
        json=patch(
            {"op": "replace", "path": "title", "value": "Boss"},
            # A filter that describes no entry to create, so nothing matches: noTarget.
            {"op": "replace", "path": 'emails[value co "zzz"].type', "value": "work"},
        ),
    )
    assert refused.status_code == 400
    assert refused.json()["scimType"] == "noTarget"
    after = scim.http.get(f"/Users/{created['id']}").json()
    assert after["title"] == "Engineer"
    assert after["meta"]["version"] == created["meta"]["version"]


def test_etags(scim: DirectoryClient) -> None:
    created = scim.http.post("/Users", json=user("hank"))
    etag = created.headers["etag"]
    user_url = f"/Users/{created.json()['id']}"
    assert scim.http.get(user_url, headers={"If-None-Match": etag}).status_code == 304
    stale = scim.http.patch(
        user_url,
        json=patch({"op": "replace", "path": "title", "value": "x"}),
        headers={"If-Match": 'W/"999"'},
    )
    assert stale.status_code == 412
    fresh = scim.http.patch(
        user_url,
        json=patch({"op": "replace", "path": "title", "value": "x"}),
        headers={"If-Match": etag},
    )
    assert fresh.status_code == 200
    assert fresh.headers["etag"] != etag
    assert scim.http.delete(user_url, headers={"If-Match": etag}).status_code == 412
    assert (
        scim.http.delete(user_url, headers={"If-Match": fresh.headers["etag"]}).status_code == 204
    )


def test_attributes_and_excluded_attributes(scim: DirectoryClient) -> None:
    created = scim.http.post("/Users", json=user("ivy", title="Engineer", displayName="Ivy")).json()
    only = scim.http.get(f"/Users/{created['id']}", params={"attributes": "title"}).json()
    assert only["title"] == "Engineer"
    assert only["id"] == created["id"]  # returned "always"
    assert "displayName" not in only
    without = scim.http.get(
        f"/Users/{created['id']}", params={"excludedAttributes": "title"}
    ).json()
    assert "title" not in without
    assert without["displayName"] == "Ivy"


def test_me_is_not_implemented(scim: DirectoryClient) -> None:
    response = scim.http.get("/Me")
    assert response.status_code == 501
    assert response.json()["status"] == "501"


def test_plain_json_is_accepted_and_answers_are_scim_json(scim: DirectoryClient) -> None:
    response = scim.http.post(
        "/Users",
        json=user("json@acme.com"),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/scim+json"
