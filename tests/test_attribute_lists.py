"""``attributes`` and ``excludedAttributes``: each name counted once, and only so many names.

A list of 2,000 names made one page cost seconds; the list is deduplicated
(names compare without regard to case) and capped at ``max_attribute_names``
on every request that takes it.
"""

import secrets
from collections.abc import Callable

import httpx
import pytest
from scim2_models import SCIMException

from conftest import DirectoryClient
from scim_payloads import SEARCH_SCHEMA, patch, user
from scimgate.scim.limits import Limits
from scimgate.scim.requests import attribute_names

LIMIT = Limits().max_attribute_names
Ask = Callable[[DirectoryClient, str, str, list[str]], httpx.Response]
"""Sends one request naming ``names`` in the parameter, about the user with that id."""


def _query(names: list[str]) -> str:
    return ",".join(names)


REQUESTS: dict[str, Ask] = {
    "GET /Users": lambda scim, _, parameter, names: scim.http.get(
        "/Users", params={parameter: _query(names)}
    ),
    "GET /Users/{id}": lambda scim, id_, parameter, names: scim.http.get(
        f"/Users/{id_}", params={parameter: _query(names)}
    ),
    "GET /Groups": lambda scim, _, parameter, names: scim.http.get(
        "/Groups", params={parameter: _query(names)}
    ),
    "POST /Users/.search": lambda scim, _, parameter, names: scim.http.post(
        "/Users/.search", json={"schemas": [SEARCH_SCHEMA], parameter: names}
    ),
    "POST /.search": lambda scim, _, parameter, names: scim.http.post(
        "/.search", json={"schemas": [SEARCH_SCHEMA], parameter: names}
    ),
    "POST /Users": lambda scim, _, parameter, names: scim.http.post(
        "/Users",
        params={parameter: _query(names)},
        json=user(f"u{secrets.token_hex(4)}", title="x"),
    ),
    "PUT /Users/{id}": lambda scim, id_, parameter, names: scim.http.put(
        f"/Users/{id_}",
        params={parameter: _query(names)},
        json=user(scim.http.get(f"/Users/{id_}").json()["userName"], title="x"),
    ),
    "PATCH /Users/{id}": lambda scim, id_, parameter, names: scim.http.patch(
        f"/Users/{id_}",
        params={parameter: _query(names)},
        json=patch({"op": "replace", "path": "title", "value": "T"}),
    ),
}

PARAMETERS = ["attributes", "excludedAttributes"]


def _existing(scim: DirectoryClient) -> str:
    created = scim.http.post("/Users", json=user(f"u{secrets.token_hex(4)}", title="x"))
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


@pytest.mark.parametrize("parameter", PARAMETERS)
@pytest.mark.parametrize("request_name", REQUESTS)
def test_too_many_distinct_names_are_refused(
    scim: DirectoryClient, request_name: str, parameter: str
) -> None:
    id_ = _existing(scim)
    names = [f"urn:example:{number}:title" for number in range(LIMIT + 1)]
    answer = REQUESTS[request_name](scim, id_, parameter, names)
    assert answer.status_code == 400, answer.text
    assert answer.json()["scimType"] == "invalidValue"
    assert parameter in answer.json()["detail"] and str(LIMIT) in answer.json()["detail"]


@pytest.mark.parametrize("parameter", PARAMETERS)
@pytest.mark.parametrize("request_name", REQUESTS)
def test_a_name_repeated_thousands_of_times_counts_once(
    scim: DirectoryClient, request_name: str, parameter: str
) -> None:
    id_ = _existing(scim)
    names = ["userName", "USERNAME", " username"] * 700 + ["title"]
    answer = REQUESTS[request_name](scim, id_, parameter, names)
    assert answer.status_code in (200, 201), answer.text
    body = answer.json()
    if "Groups" in request_name:
        return  # there is no group to show
    shown = body["Resources"][0] if "Resources" in body else body
    if parameter == "attributes":
        assert "userName" in shown and "title" in shown
    else:
        assert "userName" not in shown and "title" not in shown


def test_names_are_counted_without_regard_to_case() -> None:
    assert attribute_names({"attributes": "userName,USERNAME, userName"}, 1) == {
        "attributes": "userName"
    }
    assert attribute_names({"excludedAttributes": ["a", "A", "b"]}, 2) == {
        "excludedAttributes": ["a", "b"]
    }
    assert attribute_names({"attributes": "a,b"}, 2) == {}, "nothing to change"
    with pytest.raises(SCIMException, match="at most 2"):
        attribute_names({"attributes": "a,b,c"}, 2)
