"""Listing, filtering, sorting and paging over HTTP, on each backend."""

import pytest

from conftest import DirectoryClient
from scim_payloads import SEARCH_SCHEMA, group, user


@pytest.fixture
def people(scim: DirectoryClient) -> list[str]:
    """Twelve users, created in order (ids are time-ordered)."""
    return [
        scim.http.post(
            "/Users",
            json=user(
                f"user{n:02d}@acme.com",
                name={"familyName": f"Family{11 - n:02d}"},
                emails=[{"value": f"u{n}@{'acme' if n % 2 else 'other'}.com", "type": "work"}],
                active=n % 3 != 0,
            ),
        ).json()["id"]
        for n in range(12)
    ]


def _ids(response: dict[str, object]) -> list[str]:
    return [r["id"] for r in response.get("Resources", [])]  # type: ignore[attr-defined]


def test_empty_filter_result_is_an_empty_list(scim: DirectoryClient) -> None:
    response = scim.http.get("/Users", params={"filter": 'userName eq "nobody"'})
    assert response.status_code == 200
    assert response.json()["totalResults"] == 0
    assert response.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]


def test_sequential_pages_cover_everything_once(scim: DirectoryClient, people: list[str]) -> None:
    seen: list[str] = []
    start = 1
    while True:
        page = scim.http.get("/Users", params={"startIndex": start, "count": 5}).json()
        assert page["totalResults"] == 12
        assert page["startIndex"] == start
        seen += _ids(page)
        if page["itemsPerPage"] < 5:
            break
        start += 5
    assert seen == people


def test_jumping_to_a_page_uses_its_position(scim: DirectoryClient, people: list[str]) -> None:
    page = scim.http.get("/Users", params={"startIndex": 8, "count": 3}).json()
    assert _ids(page) == people[7:10]


def test_cursor_pages(scim: DirectoryClient, people: list[str]) -> None:
    seen: list[str] = []
    cursor = ""
    while True:
        page = scim.http.get("/Users", params={"cursor": cursor, "count": 5}).json()
        seen += _ids(page)
        if "nextCursor" not in page:
            break
        cursor = page["nextCursor"]
    assert seen == people
    bad = scim.http.get("/Users", params={"cursor": "not-a-cursor", "count": 5})
    assert bad.status_code == 400
    assert bad.json()["scimType"] == "invalidCursor"


def test_sort_by_and_order(scim: DirectoryClient, people: list[str]) -> None:
    ascending = scim.http.get("/Users", params={"sortBy": "name.familyName", "count": 20}).json()
    assert _ids(ascending) == list(reversed(people))
    descending = scim.http.get(
        "/Users", params={"sortBy": "userName", "sortOrder": "descending", "count": 20}
    ).json()
    assert _ids(descending) == list(reversed(people))


def test_filters(scim: DirectoryClient, people: list[str]) -> None:
    def found(expression: str) -> list[str]:
        response = scim.http.get("/Users", params={"filter": expression, "count": 50})
        assert response.status_code == 200, response.text
        return _ids(response.json())

    assert found('userName sw "USER0"') == people[:10]
    assert found('emails[type eq "work" and value co "@acme.com"]') == people[1::2]
    assert found("active eq false") == people[::3]
    assert found('not (active eq false) and userName ew "11@acme.com"') == [people[11]]
    assert found('userName eq "user01@acme.com" or userName eq "user02@acme.com"') == people[1:3]


def test_count_is_capped_and_zero_counts_only(scim: DirectoryClient, people: list[str]) -> None:
    zero = scim.http.get("/Users", params={"count": 0}).json()
    assert zero["totalResults"] == 12
    assert zero.get("Resources", []) == []
    config = scim.http.get("/ServiceProviderConfig").json()
    cap = config["filter"]["maxResults"]
    capped = scim.http.get("/Users", params={"count": cap + 500}).json()
    assert capped["itemsPerPage"] == 12


def test_search_endpoints(scim: DirectoryClient, people: list[str]) -> None:
    scim.http.post("/Groups", json=group("user group"))
    body = {
        "schemas": [SEARCH_SCHEMA],
        "filter": 'userName sw "user1" or displayName sw "user"',
        "count": 10,
    }
    everywhere = scim.http.post("/.search", json=body)
    assert everywhere.status_code == 200, everywhere.text
    assert everywhere.json()["totalResults"] == 3  # user10, user11 and the group
    users_only = scim.http.post(
        "/Users/.search", json={"schemas": [SEARCH_SCHEMA], "filter": 'userName sw "user1"'}
    ).json()
    assert _ids(users_only) == people[10:]


def test_unknown_query_parameters_are_ignored(scim: DirectoryClient, people: list[str]) -> None:
    response = scim.http.get("/Users", params={"aadOptscim062020": "", "count": 2})
    assert response.status_code == 200
    assert _ids(response.json()) == people[:2]


def test_pages_past_the_end_are_empty(scim: DirectoryClient, people: list[str]) -> None:
    for start in (13, 10**30):
        page = scim.http.get("/Users", params={"startIndex": start, "count": 5})
        assert page.status_code == 200
        assert page.json()["totalResults"] == 12
        assert page.json().get("Resources", []) == []
