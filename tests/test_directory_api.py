"""The management API's view of a directory: users and groups searched, and one at a time."""

import httpx

from conftest import DirectoryClient
from scim_payloads import group, user


def _people(scim: DirectoryClient) -> list[str]:
    ids = []
    for name, given in (("ann@acme.com", "Ann"), ("bob@acme.com", "Bob"), ("annette@x.io", "Net")):
        created = scim.http.post(
            "/Users", json=user(name, name={"givenName": given, "familyName": "Smith"})
        )
        assert created.status_code == 201
        ids.append(created.json()["id"])
    return ids


def test_users_and_groups_are_searched_by_text(scim: DirectoryClient, admin: httpx.Client) -> None:
    ids = _people(scim)
    assert scim.http.post("/Groups", json=group("Engineering", ids[:2])).status_code == 201
    assert scim.http.post("/Groups", json=group("Sales", ids[2:])).status_code == 201
    base = f"/directories/{scim.directory_id}"

    found = admin.get(f"{base}/users", params={"q": "ANN"}).json()
    assert found["total"] == 2
    assert sorted(each["username"] for each in found["users"]) == ["ann@acme.com", "annette@x.io"]
    paged = admin.get(f"{base}/users", params={"q": "ann", "count": 1, "startIndex": 2}).json()
    assert paged["total"] == 2 and len(paged["users"]) == 1
    assert admin.get(f"{base}/users", params={"q": "nobody"}).json() == {"total": 0, "users": []}

    groups = admin.get(f"{base}/groups", params={"q": "engin"}).json()
    assert [(each["name"], each["member_count"]) for each in groups["groups"]] == [
        ("Engineering", 2)
    ]


def test_one_user_and_one_group(scim: DirectoryClient, admin: httpx.Client) -> None:
    ids = _people(scim)
    created = scim.http.post("/Groups", json=group("Engineering", ids))
    group_id = created.json()["id"]
    base = f"/directories/{scim.directory_id}"

    one = admin.get(f"{base}/users/{ids[1]}")
    assert one.status_code == 200
    assert one.json()["username"] == "bob@acme.com"
    assert one.json()["first_name"] == "Bob"

    engineering = admin.get(f"{base}/groups/{group_id}", params={"count": 2}).json()
    assert engineering["name"] == "Engineering"
    assert engineering["member_count"] == 3
    assert len(engineering["members"]) == 2

    assert admin.get(f"{base}/users/{group_id}").status_code == 404
    assert admin.get(f"{base}/groups/{ids[0]}").status_code == 404
    assert admin.get("/directories/nope/users/x").status_code == 404
    lookup = admin.get(f"{base}/users/lookup", params={"subject": "bob@acme.com"})
    assert lookup.status_code == 200, "the login lookup is not taken for a user id"
