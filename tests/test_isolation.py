"""Tenant isolation: one directory's token reaches nothing of another directory, by any route."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conftest import DirectoryClient, LiveServer, new_directory
from scim_payloads import BULK_SCHEMA, SEARCH_SCHEMA, group, patch, user


@pytest.fixture
def victim(live_server: LiveServer) -> Iterator[DirectoryClient]:
    """Directory B, with users, a group with members, and a nested group."""
    b = new_directory(live_server, "victim")
    ids = [b.http.post("/Users", json=user(f"b{n}@victim.com")).json()["id"] for n in range(3)]
    inner = b.http.post("/Groups", json=group("B inner", ids[:1])).json()["id"]
    b.http.post("/Groups", json=group("B outer", [*ids[1:], inner]))
    yield b
    b.http.close()


def _snapshot(directory: DirectoryClient) -> dict[str, Any]:
    """Everything a directory holds, versions included."""
    users = directory.http.get("/Users", params={"count": 1000}).json()
    groups = directory.http.get("/Groups", params={"count": 1000}).json()
    return {"users": users["Resources"], "groups": groups["Resources"]}


def _ids(directory: DirectoryClient, endpoint: str) -> list[str]:
    return [
        r["id"] for r in directory.http.get(endpoint, params={"count": 1000}).json()["Resources"]
    ]


def test_another_directorys_ids_are_unknown_through_my_url(
    scim: DirectoryClient, victim: DirectoryClient
) -> None:
    before = _snapshot(victim)
    for endpoint in ("/Users", "/Groups"):
        for resource_id in _ids(victim, endpoint):
            url = f"{endpoint}/{resource_id}"
            replacement = user("stolen") if endpoint == "/Users" else group("stolen")
            change = patch({"op": "replace", "path": "externalId", "value": "stolen"})
            responses = [
                scim.http.get(url),
                scim.http.put(url, json=replacement),
                scim.http.patch(url, json=change),
                scim.http.delete(url),
            ]
            assert [r.status_code for r in responses] == [404, 404, 404, 404], url
            assert all(r.json()["status"] == "404" for r in responses)
    assert _snapshot(victim) == before


def test_my_token_on_another_directorys_url_finds_no_directory(
    scim: DirectoryClient, victim: DirectoryClient
) -> None:
    before = _snapshot(victim)
    user_id = _ids(victim, "/Users")[0]
    group_id = _ids(victim, "/Groups")[0]
    headers = {"Authorization": f"Bearer {scim.token}", "Content-Type": "application/scim+json"}
    with httpx.Client(base_url=victim.base_url, headers=headers) as intruder:
        attempts = [
            intruder.get("/Users"),
            intruder.get("/Groups"),
            intruder.get(f"/Users/{user_id}"),
            intruder.get(f"/Groups/{group_id}"),
            intruder.post("/Users", json=user("planted")),
            intruder.patch(f"/Groups/{group_id}", json=patch({"op": "remove", "path": "members"})),
            intruder.delete(f"/Users/{user_id}"),
            intruder.post("/.search", json={"schemas": [SEARCH_SCHEMA]}),
            intruder.post("/Users/.search", json={"schemas": [SEARCH_SCHEMA]}),
            intruder.post(
                "/Bulk",
                json={
                    "schemas": [BULK_SCHEMA],
                    "Operations": [{"method": "DELETE", "path": f"/Users/{user_id}"}],
                },
            ),
            intruder.get("/ServiceProviderConfig"),
            intruder.get("/Schemas"),
            intruder.get("/ResourceTypes"),
        ]
    assert [r.status_code for r in attempts] == [404] * len(attempts)
    assert all(victim.directory_id in r.json()["detail"] for r in attempts)
    assert _snapshot(victim) == before


def test_filters_and_searches_see_only_my_directory(
    scim: DirectoryClient, victim: DirectoryClient
) -> None:
    mine = scim.http.post("/Users", json=user("mine@acme.com")).json()["id"]
    b_user = _ids(victim, "/Users")[0]
    b_group = _ids(victim, "/Groups")[0]
    filters = {
        "/Users": [
            f'id eq "{b_user}"',
            'userName eq "b0@victim.com"',
            'userName co "victim"',
            f'groups.value eq "{b_group}"',
            "userName pr",
        ],
        "/Groups": [f'id eq "{b_group}"', 'displayName sw "B"', f'members.value eq "{b_user}"'],
    }
    for endpoint, expressions in filters.items():
        for expression in expressions:
            found = scim.http.get(endpoint, params={"filter": expression}).json()
            assert all(r["id"] == mine for r in found.get("Resources", [])), expression
    for endpoint in ("/.search", "/Users/.search", "/Groups/.search"):
        searched = scim.http.post(endpoint, json={"schemas": [SEARCH_SCHEMA], "count": 1000})
        assert {r["id"] for r in searched.json().get("Resources", [])} <= {mine}


def test_bulk_and_memberships_cannot_reach_another_directory(
    scim: DirectoryClient, victim: DirectoryClient
) -> None:
    before = _snapshot(victim)
    b_user = _ids(victim, "/Users")[0]
    b_group = _ids(victim, "/Groups")[0]
    my_group = scim.http.post("/Groups", json=group("Mine")).json()["id"]

    refused = [
        scim.http.post("/Groups", json=group("Grab", [b_user])),
        scim.http.put(f"/Groups/{my_group}", json=group("Mine", [b_user])),
        scim.http.patch(
            f"/Groups/{my_group}",
            json=patch({"op": "add", "path": "members", "value": [{"value": b_group}]}),
        ),
    ]
    assert [r.status_code for r in refused] == [400, 400, 400]
    assert all(r.json()["scimType"] == "invalidValue" for r in refused)

    bulk = scim.http.post(
        "/Bulk",
        json={
            "schemas": [BULK_SCHEMA],
            "Operations": [
                {"method": "DELETE", "path": f"/Users/{b_user}"},
                {
                    "method": "PATCH",
                    "path": f"/Groups/{b_group}",
                    "data": patch({"op": "remove", "path": "members"}),
                },
                {"method": "PUT", "path": f"/Users/{b_user}", "data": user("stolen")},
                {
                    "method": "PATCH",
                    "path": f"/Groups/{my_group}",
                    "data": patch({"op": "add", "path": "members", "value": [{"value": b_user}]}),
                },
            ],
        },
    )
    assert [r["status"] for r in bulk.json()["Operations"]] == ["404", "404", "404", "400"]
    assert scim.http.get(f"/Groups/{my_group}").json().get("members") is None
    assert _snapshot(victim) == before


def test_bad_tokens_are_refused(victim: DirectoryClient) -> None:
    url = f"{victim.base_url}/Users"
    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer scimgate_not-a-real-token"},
        {"Authorization": f"Bearer {victim.token}x"},
    ):
        response = httpx.get(url, headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["status"] == "401"
