"""What a stored resource holds, whichever request wrote it (POST, PUT, PATCH, Bulk).

Required strings are not blank, indexed strings fit their column on both
backends, and a multi-valued attribute holds each value once (RFC 7643 §2.4).
"""

import secrets
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from conftest import DirectoryClient
from scim_payloads import BULK_SCHEMA, group, patch, user
from scimgate.scim.values import EXTERNAL_ID_MAX, GROUP_DISPLAY_NAME_MAX, USER_NAME_MAX

Write = Callable[[DirectoryClient, str, dict[str, Any]], httpx.Response]
"""Writes one attribute value of a resource (``id`` of an existing one) through one method."""


def _name() -> str:
    return f"u{secrets.token_hex(4)}@example.com"


def _bulk(scim: DirectoryClient, method: str, path: str, data: dict[str, Any]) -> httpx.Response:
    """A one-operation Bulk request, answered with that operation's status and error."""
    operation = {"method": method, "path": path, "bulkId": "one", "data": data}
    answer = scim.http.post("/Bulk", json={"schemas": [BULK_SCHEMA], "Operations": [operation]})
    assert answer.status_code == 200, answer.text
    result = answer.json()["Operations"][0]
    body = result.get("response") or {"id": str(result.get("location", "")).rsplit("/", 1)[-1]}
    return httpx.Response(int(result["status"]), json=body)


def _users(kind: str) -> str:
    return "/Users" if kind == "user" else "/Groups"


def _body(kind: str, attributes: dict[str, Any]) -> dict[str, Any]:
    base = user(_name()) if kind == "user" else group(f"g{secrets.token_hex(4)}")
    return {**base, **attributes}


def _post(kind: str) -> Write:
    return lambda scim, _, attributes: scim.http.post(_users(kind), json=_body(kind, attributes))


def _put(kind: str) -> Write:
    return lambda scim, id_, attributes: scim.http.put(
        f"{_users(kind)}/{id_}", json=_body(kind, attributes)
    )


def _patch_path(kind: str) -> Write:
    def write(scim: DirectoryClient, id_: str, attributes: dict[str, Any]) -> httpx.Response:
        operations = [
            {"op": "replace", "path": name, "value": value} for name, value in attributes.items()
        ]
        return scim.http.patch(f"{_users(kind)}/{id_}", json=patch(*operations))

    return write


def _patch_no_path(kind: str) -> Write:
    return lambda scim, id_, attributes: scim.http.patch(
        f"{_users(kind)}/{id_}", json=patch({"op": "replace", "value": attributes})
    )


def _bulk_post(kind: str) -> Write:
    return lambda scim, _, attributes: _bulk(scim, "POST", _users(kind), _body(kind, attributes))


def _bulk_put(kind: str) -> Write:
    return lambda scim, id_, attributes: _bulk(
        scim, "PUT", f"{_users(kind)}/{id_}", _body(kind, attributes)
    )


def _bulk_patch(kind: str) -> Write:
    return lambda scim, id_, attributes: _bulk(
        scim, "PATCH", f"{_users(kind)}/{id_}", patch({"op": "replace", "value": attributes})
    )


METHODS = {
    "POST": _post,
    "PUT": _put,
    "PATCH path": _patch_path,
    "PATCH no path": _patch_no_path,
    "Bulk POST": _bulk_post,
    "Bulk PUT": _bulk_put,
    "Bulk PATCH": _bulk_patch,
}


def _existing(scim: DirectoryClient, kind: str) -> tuple[str, dict[str, Any]]:
    created = scim.http.post(_users(kind), json=_body(kind, {}))
    assert created.status_code == 201, created.text
    return created.json()["id"], created.json()


def _unchanged(scim: DirectoryClient, kind: str, id_: str, before: dict[str, Any]) -> None:
    after = scim.http.get(f"{_users(kind)}/{id_}").json()
    assert after["meta"]["version"] == before["meta"]["version"]


def _refused(answer: httpx.Response, *words: str) -> None:
    assert answer.status_code == 400, answer.text
    error = answer.json()
    assert error["scimType"] == "invalidValue", error
    for word in words:
        assert word in error["detail"], error


# Required strings


BLANK = {
    "user userName": ("user", "userName"),
    "group displayName": ("group", "displayName"),
}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("target", BLANK)
@pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
def test_a_required_string_may_not_be_blank(
    scim: DirectoryClient, method: str, target: str, blank: str
) -> None:
    kind, attribute = BLANK[target]
    id_, before = _existing(scim, kind)
    answer = METHODS[method](kind)(scim, id_, {attribute: blank})
    _refused(answer, attribute, "empty")
    _unchanged(scim, kind, id_, before)


# Lengths of the strings the database indexes


LIMITED = {
    "user userName": ("user", "userName", USER_NAME_MAX),
    "user externalId": ("user", "externalId", EXTERNAL_ID_MAX),
    "group displayName": ("group", "displayName", GROUP_DISPLAY_NAME_MAX),
    "group externalId": ("group", "externalId", EXTERNAL_ID_MAX),
}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("target", LIMITED)
def test_a_string_longer_than_its_limit_is_refused_on_every_backend(
    scim: DirectoryClient, method: str, target: str
) -> None:
    kind, attribute, limit = LIMITED[target]
    id_, before = _existing(scim, kind)
    too_long = "x" * (limit + 1)
    answer = METHODS[method](kind)(scim, id_, {attribute: too_long})
    _refused(answer, attribute, str(limit))
    _unchanged(scim, kind, id_, before)
    at_limit = secrets.token_hex(4) + "x" * (limit - 8)
    kept = METHODS[method](kind)(scim, id_, {attribute: at_limit})
    assert kept.status_code in (200, 201, 204), kept.text


def test_a_value_longer_once_lower_cased_is_refused(scim: DirectoryClient) -> None:
    """'İ' lower-cases to two characters: the uniqueness key would not fit its column."""
    answer = scim.http.post("/Users", json=user("İ" * (USER_NAME_MAX - 10)))
    _refused(answer, "userName", str(USER_NAME_MAX))


# Duplicate values of multi-valued attributes


DUPLICATED = {
    "emails": ({"type": "work", "value": "Ann@Example.com"}, "ANN@example.com"),
    "phoneNumbers": ({"type": "work", "value": "+1 555 0100"}, "+1 555 0100"),
    "ims": ({"type": "xmpp", "value": "ann@jabber.org"}, "ANN@jabber.org"),
    "photos": ({"type": "photo", "value": "https://example.com/ann.jpg"}, None),
    "entitlements": ({"type": "app", "value": "Reader"}, "reader"),
    "roles": ({"type": "app", "value": "Admin"}, "ADMIN"),
    "x509Certificates": ({"value": "aGVsbG8="}, None),
    "addresses": ({"type": "work", "locality": "Paris", "country": "FR"}, None),
}
"""One value per attribute, and the same value spelt in another case where not caseExact."""


def _twice(attribute: str) -> list[dict[str, Any]]:
    value, other_case = DUPLICATED[attribute]
    again = dict(value, primary=True)
    if other_case is not None:
        again["value"] = other_case
    elif attribute == "addresses":
        again["locality"] = "PARIS"
    return [value, again]


def _collapsed(found: dict[str, Any], attribute: str) -> None:
    values = found[attribute]
    assert len(values) == 1, values
    assert values[0].get("primary") is True, values


@pytest.mark.parametrize("attribute", DUPLICATED)
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH add", "PATCH no path", "Bulk POST"])
def test_a_value_sent_twice_is_kept_once_with_primary(
    scim: DirectoryClient, attribute: str, method: str
) -> None:
    twice = _twice(attribute)
    id_, _ = _existing(scim, "user")
    if method == "POST":
        answer = scim.http.post("/Users", json=user(_name(), **{attribute: twice}))
    elif method == "Bulk POST":
        answer = _bulk(scim, "POST", "/Users", user(_name(), **{attribute: twice}))
    elif method == "PUT":
        answer = scim.http.put(f"/Users/{id_}", json=user(_name(), **{attribute: twice}))
    elif method == "PATCH add":
        first, second = twice
        answer = scim.http.patch(
            f"/Users/{id_}",
            json=patch(
                {"op": "add", "path": attribute, "value": [first]},
                {"op": "add", "path": attribute, "value": [second]},
            ),
        )
    else:
        answer = scim.http.patch(
            f"/Users/{id_}", json=patch({"op": "replace", "value": {attribute: twice}})
        )
    assert answer.status_code in (200, 201), answer.text
    if method != "Bulk POST":
        _collapsed(answer.json(), attribute)
    _collapsed(scim.http.get(f"/Users/{answer.json()['id']}").json(), attribute)


def test_values_that_differ_are_all_kept(scim: DirectoryClient) -> None:
    emails = [
        {"type": "work", "value": "ann@example.com"},
        {"type": "home", "value": "ann@example.com"},
        {"type": "work", "value": "ann.b@example.com"},
    ]
    certificates = [{"value": "aGVsbG8="}, {"value": "AGVSBG8="}]
    created = scim.http.post(
        "/Users", json=user(_name(), emails=emails, x509Certificates=certificates)
    )
    assert created.status_code == 201, created.text
    assert len(created.json()["emails"]) == 3
    assert len(created.json()["x509Certificates"]) == 2, "base64 is case-sensitive"


# Every other place a request puts a string in an indexed column or a lookup


LONG = "x" * 600


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/Groups", group("g", [LONG])),
        (
            "PATCH",
            "/Groups/{group}",
            patch({"op": "add", "path": "members", "value": [{"value": LONG}]}),
        ),
        (
            "PATCH",
            "/Groups/{group}",
            patch({"op": "remove", "path": f'members[value eq "{LONG}"]'}),
        ),
        ("GET", f"/Users/{LONG}", None),
        ("PUT", f"/Users/{LONG}", user("a")),
        ("PATCH", f"/Users/{LONG}", patch({"op": "replace", "path": "title", "value": "t"})),
        ("DELETE", f"/Groups/{LONG}", None),
        ("GET", f'/Users?filter=userName eq "{LONG}"', None),
        ("GET", f'/Users?filter=externalId eq "{LONG}"', None),
        ("GET", f'/Users?filter=emails.value eq "{LONG}@example.com"', None),
        ("GET", f'/Groups?filter=displayName eq "{LONG}"', None),
        ("GET", f'/Groups?filter=members.value eq "{LONG}"', None),
    ],
)
def test_a_long_string_anywhere_else_is_never_a_server_error(
    scim: DirectoryClient, method: str, path: str, body: Any
) -> None:
    group_id, _ = _existing(scim, "group")
    answer = scim.http.request(method, path.replace("{group}", group_id), json=body)
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        assert answer.json()["detail"], answer.text
