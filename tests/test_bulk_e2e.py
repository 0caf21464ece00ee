"""Bulk requests over HTTP, on each backend."""

from conftest import DirectoryClient
from scim_payloads import BULK_SCHEMA, group, patch, user


def test_bulk_with_bulk_id_references(scim: DirectoryClient) -> None:
    response = scim.http.post(
        "/Bulk",
        json={
            "schemas": [BULK_SCHEMA],
            "Operations": [
                # The group refers to a user created later in the same request.
                {
                    "method": "POST",
                    "path": "/Groups",
                    "bulkId": "g1",
                    "data": {**group("Bulk team"), "members": [{"value": "bulkId:u1"}]},
                },
                {"method": "POST", "path": "/Users", "bulkId": "u1", "data": user("bulk1")},
                {
                    "method": "PATCH",
                    "path": "/Users/bulkId:u1",
                    "data": patch({"op": "replace", "path": "title", "value": "Lead"}),
                },
            ],
        },
    )
    assert response.status_code == 200, response.text
    results = response.json()["Operations"]
    assert [r["status"] for r in results] == ["201", "201", "200"]
    group_location = results[0]["location"]
    members = scim.http.get(group_location).json()["members"]
    user_id = results[1]["location"].rsplit("/", 1)[1]
    assert [m["value"] for m in members] == [user_id]
    assert scim.http.get(f"/Users/{user_id}").json()["title"] == "Lead"


def test_fail_on_errors_stops_processing(scim: DirectoryClient) -> None:
    response = scim.http.post(
        "/Bulk",
        json={
            "schemas": [BULK_SCHEMA],
            "failOnErrors": 1,
            "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "x"}},
                {"method": "POST", "path": "/Users", "bulkId": "b", "data": user("never")},
            ],
        },
    )
    assert response.status_code == 200
    results = response.json()["Operations"]
    assert len(results) == 1
    assert results[0]["status"] == "400"
    assert results[0]["response"]["scimType"]
    listed = scim.http.get("/Users", params={"filter": 'userName eq "never"'}).json()
    assert listed["totalResults"] == 0


def test_bulk_limits_are_advertised_and_enforced(scim: DirectoryClient) -> None:
    bulk = scim.http.get("/ServiceProviderConfig").json()["bulk"]
    operations = [
        {"method": "POST", "path": "/Users", "bulkId": f"u{n}", "data": user(f"u{n}")}
        for n in range(bulk["maxOperations"] + 1)
    ]
    response = scim.http.post("/Bulk", json={"schemas": [BULK_SCHEMA], "Operations": operations})
    assert response.status_code == 413
    assert scim.http.get("/Users", params={"count": 0}).json()["totalResults"] == 0


def test_a_bad_operation_fails_alone(scim: DirectoryClient) -> None:
    response = scim.http.post(
        "/Bulk",
        json={
            "schemas": [BULK_SCHEMA],
            "Operations": [
                {"method": "POST", "path": "/Pets", "bulkId": "p", "data": user("pet")},
                {"method": "POST", "path": "/Users", "bulkId": "u", "data": user("fine")},
            ],
        },
    )
    assert response.status_code == 200, response.text
    results = response.json()["Operations"]
    assert [r["status"] for r in results] == ["400", "201"]
    assert results[0]["response"]["scimType"] == "invalidPath"
