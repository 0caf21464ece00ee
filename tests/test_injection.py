"""Injection: SQL and JSON-path tricks in filters, sortBy, attributes, PATCH paths, ids, searches.

Filters are translated to SQL; each payload must either be refused with a
precise 400 or be evaluated as the text it is: exactly the rows a correct
evaluation gives (users named after the payloads exist, so an exact match is
checked, not only an empty one), never another directory's, never a 5xx.
Afterwards every table is still there and the other directory is unchanged.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect

from conftest import DirectoryClient, LiveServer, new_directory
from property_support import snapshot
from scim_payloads import ERROR_SCHEMA, SEARCH_SCHEMA, group, patch, user

NAMES = [
    "alice@acme.com",
    "bob@acme.com",
    "x' OR '1'='1",
    '") OR 1=1 --',
    "100%@acme.com",
    "under_score@acme.com",
    "back\\slash@acme.com",
    'a" or "1"="1',
]
"""The userNames of my directory: some are the payloads themselves, so a literal must match them."""


@dataclass
class Setup:
    server: LiveServer
    mine: DirectoryClient
    other: DirectoryClient
    ids: dict[str, str]
    """My users' ids by userName."""
    other_ids: set[str]


@pytest.fixture(scope="module")
def setup(live_server: LiveServer) -> Iterator[Setup]:
    """Built once per backend: no test changes what another one reads."""
    mine = new_directory(live_server, "mine")
    other = new_directory(live_server, "other")
    ids = {}
    for n, name in enumerate(NAMES):
        created = mine.http.post(
            "/Users",
            json=user(
                name,
                name={"givenName": f"Given{n}", "familyName": "Same"},
                emails=[{"value": f"user{n}@acme.com", "type": "work"}],
            ),
        )
        assert created.status_code == 201, created.text
        ids[name] = created.json()["id"]
    other_ids = set()
    for name in [*NAMES, "evil' OR '1'='1", "zed@other.com"]:
        created = other.http.post("/Users", json=user(name, name={"givenName": "Other"}))
        assert created.status_code == 201, created.text
        other_ids.add(created.json()["id"])
    team = other.http.post("/Groups", json=group("Other team", sorted(other_ids)[:2]))
    other_ids.add(team.json()["id"])
    yield Setup(live_server, mine, other, ids, other_ids)
    mine.http.close()
    other.http.close()


def _unless_limited(response: httpx.Response) -> None:
    """A 429 (with ``Retry-After``) says nothing about the payload: the test stops there."""
    if response.status_code == 429:
        assert response.headers.get("retry-after"), response.headers
        pytest.skip("the server asked to slow down")


def _error(response: httpx.Response, *scim_types: str) -> None:
    _unless_limited(response)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["schemas"] == [ERROR_SCHEMA] and body["status"] == "400"
    if scim_types:
        assert body.get("scimType") in scim_types, body


def _found(response: httpx.Response) -> set[str]:
    _unless_limited(response)
    assert response.status_code == 200, response.text
    return {r["id"] for r in response.json().get("Resources", [])}


# filter → the userNames a correct evaluation finds in my directory (None: a 400 invalidFilter).
FILTERS: dict[str, list[str] | None] = {
    # Payloads inside a literal are text: they match the user of that name, or nobody.
    """userName eq "x' OR '1'='1\"""": ["x' OR '1'='1"],
    'userName eq "\\") OR 1=1 --"': ['") OR 1=1 --'],
    'userName eq "a\\" or \\"1\\"=\\"1"': ['a" or "1"="1'],
    """userName eq "evil' OR '1'='1\"""": [],
    """userName eq "x'; DROP TABLE users; --\"""": [],
    """userName eq "' UNION SELECT secret_hash FROM scim_tokens --\"""": [],
    """name.givenName eq "x') OR ('1'='1\"""": [],
    # LIKE wildcards and escapes are ordinary characters.
    'userName co "%"': ["100%@acme.com"],
    'userName co "_"': ["under_score@acme.com"],
    'userName sw "%"': [],
    'userName ew "%"': [],
    'userName co "\\\\"': ["back\\slash@acme.com"],
    'userName co "\'"': ["x' OR '1'='1"],
    'userName co "*"': [],
    'userName co "."': [n for n in NAMES if "." in n],
    # An e-mail value may be any text, so a payload inside its literal is text, found nowhere.
    'emails[value eq "a\\" or \\"1\\"=\\"1"]': [],
    """emails[value eq "x' or '1'='1"]""": [],
    # Payloads outside a literal do not parse.
    """name.givenName') OR ('1'='1 eq "x\"""": None,
    'userName eq "x" or 1 eq 1': None,
    'userName eq "x" or 1=1': None,
    'userName eq "x"; DROP TABLE users': None,
    'userName eq "x" --': None,
    "userName eq x' OR '1'='1": None,
    'userName eq "x" OR "1" eq "1"': None,
    'name.$ eq "x"': None,
    "emails[*] pr": None,
    '$.userName eq "x"': None,
    'name["givenName"] eq "x"': None,
    'userName[0] eq "x"': None,
    'emails[value eq "x" or 1 eq 1]': None,
}


@pytest.mark.parametrize("expression", FILTERS, ids=range(len(FILTERS)))
def test_filter_payloads_are_text_or_refused(setup: Setup, expression: str) -> None:
    expected = FILTERS[expression]
    answers = [
        setup.mine.http.get("/Users", params={"filter": expression, "count": 1000}),
        setup.mine.http.post(
            "/Users/.search", json={"schemas": [SEARCH_SCHEMA], "filter": expression}
        ),
        setup.mine.http.post("/.search", json={"schemas": [SEARCH_SCHEMA], "filter": expression}),
    ]
    for answer in answers:
        if expected is None:
            _error(answer, "invalidFilter")
        else:
            assert _found(answer) == {setup.ids[name] for name in expected}, expression


SORTS = [
    "userName; DROP TABLE users",
    "userName desc",
    "name.givenName desc",
    "userName,id",
    "$",
    '"userName"',
    "'userName'",
    'emails[type eq "work"]',
    "*",
    "name.$",
    "(SELECT 1)",
    "1",
]


@pytest.mark.parametrize("sort_by", SORTS)
def test_sort_by_payloads_sort_my_users_or_are_refused(setup: Setup, sort_by: str) -> None:
    for answer in (
        setup.mine.http.get("/Users", params={"sortBy": sort_by, "count": 1000}),
        setup.mine.http.post(
            "/Users/.search", json={"schemas": [SEARCH_SCHEMA], "sortBy": sort_by, "count": 1000}
        ),
    ):
        if answer.status_code == 400:
            _error(answer, "invalidPath", "invalidValue", "invalidFilter")
        else:
            assert _found(answer) == set(setup.ids.values()), sort_by


def test_a_sort_by_a_real_attribute_sorts_exactly_my_users(setup: Setup) -> None:
    answer = setup.mine.http.get(
        "/Users", params={"sortBy": "userName", "sortOrder": "descending", "count": 1000}
    )
    names = [r["userName"] for r in answer.json()["Resources"]]
    assert sorted(names, key=str.lower, reverse=True) == names
    assert set(names) == set(NAMES)


PROJECTIONS = [
    "userName,(SELECT 1)",
    "name.$",
    "emails[value]",
    "*",
    "'",
    '"',
    "userName; DROP TABLE users",
    "urn:ietf:params:scim:schemas:core:2.0:User:userName' OR '1'='1",
    "$..*",
]


@pytest.mark.parametrize("parameter", ["attributes", "excludedAttributes"])
@pytest.mark.parametrize("projection", PROJECTIONS)
def test_attribute_payloads_project_my_users_or_are_refused(
    setup: Setup, parameter: str, projection: str
) -> None:
    answer = setup.mine.http.get("/Users", params={parameter: projection, "count": 1000})
    if answer.status_code == 400:
        _error(answer)
    else:
        assert _found(answer) == set(setup.ids.values()), projection


PATCH_PATHS = [
    "title'); DROP TABLE users; --",
    'emails[value eq "x\\" or \\"1\\"=\\"1"].type',
    "emails[value eq \"x' or '1'='1\"].type",
    "name.$.givenName",
    "$..*",
    "emails[*].type",
    'emails[value eq "x" or 1 eq 1].type',
    'emails[type eq "work"] or 1 eq 1',
    "title\u0000",
    "urn:ietf:params:scim:schemas:core:2.0:User:title'--",
]


@pytest.mark.parametrize("path", PATCH_PATHS)
def test_patch_path_payloads_change_only_what_they_name(setup: Setup, path: str) -> None:
    target = setup.ids["alice@acme.com"]
    before = setup.mine.http.get(f"/Users/{target}").json()
    untouched = {i for i in setup.ids.values() if i != target}
    others_before = _users(setup.mine, untouched)
    answer = setup.mine.http.patch(
        f"/Users/{target}", json=patch({"op": "replace", "path": path, "value": "pwned"})
    )
    assert answer.status_code in (200, 400), answer.text
    if answer.status_code == 400:
        _error(answer, "invalidPath", "invalidFilter", "invalidValue", "noTarget", "mutability")
        assert setup.mine.http.get(f"/Users/{target}").json() == before
    else:
        after = answer.json()
        # Whatever was set, the email that no filter of the payloads matches kept its type.
        assert [e["type"] for e in after.get("emails", [])][:1] == ["work"], after
    assert _users(setup.mine, untouched) == others_before


def test_group_member_filter_payloads_remove_nobody(setup: Setup) -> None:
    members = [setup.ids["alice@acme.com"], setup.ids["bob@acme.com"]]
    created = setup.mine.http.post("/Groups", json=group("Team", members)).json()
    for path in (
        'members[value eq "x" or 1 eq 1]',
        'members[value eq "x\\" or \\"1\\"=\\"1"]',
        "members[value eq \"x' or '1'='1\"]",
        'members[value co ""]) OR (1=1',
    ):
        answer = setup.mine.http.patch(
            f"/Groups/{created['id']}", json=patch({"op": "remove", "path": path})
        )
        assert answer.status_code in (204, 400), answer.text
        if answer.status_code == 400:
            _error(answer)
        held = setup.mine.http.get(f"/Groups/{created['id']}").json()
        assert sorted(m["value"] for m in held["members"]) == sorted(members), path


ID_PAYLOADS = [
    "' OR '1'='1",
    "1 OR 1=1",
    "%27%20OR%201%3D1--",
    "*",
    "%25",
    "_",
    "%",
    "..%2Fx",
]


@pytest.mark.parametrize("resource_id", ID_PAYLOADS)
def test_id_payloads_in_the_url_find_nothing(setup: Setup, resource_id: str) -> None:
    for endpoint in ("/Users", "/Groups"):
        url = f"{setup.mine.base_url}{endpoint}/{resource_id}"
        for method in ("GET", "PUT", "PATCH", "DELETE"):
            body: Any = None
            if method == "PUT":
                body = user("x") if endpoint == "/Users" else group("x")
            elif method == "PATCH":
                body = patch({"op": "replace", "path": "externalId", "value": "x"})
            answer = setup.mine.http.request(method, httpx.URL(url), json=body)
            assert answer.status_code == 404, (method, url, answer.text)
            assert answer.json()["status"] == "404"


SEARCH_BODIES: list[dict[str, Any]] = [
    {"filter": {"$ne": None}},
    {"filter": ["userName pr"]},
    {"filter": "userName pr", "sortBy": ["userName"]},
    {"filter": "userName pr", "attributes": "userName"},
    {"filter": "userName pr", "startIndex": "1 OR 1=1"},
    {"filter": "userName pr", "count": "1; DROP TABLE users"},
    {"filter": "userName pr", "$where": "1 == 1"},
]


@pytest.mark.parametrize("extra", SEARCH_BODIES, ids=range(len(SEARCH_BODIES)))
def test_search_body_payloads_are_refused_or_find_only_mine(
    setup: Setup, extra: dict[str, Any]
) -> None:
    for endpoint in ("/.search", "/Users/.search"):
        answer = setup.mine.http.post(endpoint, json={"schemas": [SEARCH_SCHEMA], **extra})
        if answer.status_code == 400:
            _error(answer)
        else:
            assert _found(answer) == set(setup.ids.values()), (endpoint, extra)


def test_after_every_payload_the_tables_and_the_other_directory_are_intact(setup: Setup) -> None:
    tables = set(inspect(setup.server.engine).get_table_names())
    other = snapshot(setup.server, setup.other)
    for expression in FILTERS:
        setup.mine.http.get("/Users", params={"filter": expression})
        setup.mine.http.get("/Groups", params={"filter": expression})
    for sort_by in SORTS:
        setup.mine.http.get("/Users", params={"sortBy": sort_by})
    for path in PATCH_PATHS:
        setup.mine.http.patch(
            f"/Users/{setup.ids['bob@acme.com']}",
            json=patch({"op": "remove", "path": path}),
        )
    assert set(inspect(setup.server.engine).get_table_names()) == tables
    assert {"users", "groups", "group_members", "scim_tokens"} <= tables
    assert snapshot(setup.server, setup.other) == other
    assert _found(setup.mine.http.get("/Users", params={"count": 1000})) == set(setup.ids.values())


def _users(directory: DirectoryClient, ids: set[str]) -> list[Any]:
    return [directory.http.get(f"/Users/{i}").json() for i in sorted(ids)]
