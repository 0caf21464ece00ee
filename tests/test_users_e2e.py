"""Users over HTTP against a live server, on each backend."""

from conftest import DirectoryClient

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


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
