"""A corpus of bad requests: each gets a precise SCIM error, none a 5xx, and nothing changes."""

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from conftest import DirectoryClient
from scim_payloads import (
    BULK_SCHEMA,
    ERROR_SCHEMA,
    GROUP_SCHEMA,
    PATCH_SCHEMA,
    SEARCH_SCHEMA,
    USER_SCHEMA,
    group,
    patch,
    user,
)


@dataclass(frozen=True)
class Bad:
    """One bad request and the error it must get."""

    method: str
    path: str
    status: int
    scim_type: str | None = None
    body: Any = None
    raw: bytes | None = None
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    mentions: str | None = None
    """A word the detail must contain, so that it names what is wrong."""


U = "{user}"  # replaced by the existing user's id
G = "{group}"  # replaced by the existing group's id

CORPUS: dict[str, Bad] = {
    # Bodies that are not SCIM at all
    "malformed json": Bad(
        "POST", "/Users", 400, "invalidSyntax", raw=b'{"userName": ', mentions="JSON"
    ),
    "json array body": Bad(
        "POST", "/Users", 400, "invalidSyntax", raw=b"[1, 2]", mentions="object"
    ),
    "json string body": Bad("POST", "/Groups", 400, "invalidSyntax", raw=b'"x"', mentions="object"),
    "not utf-8": Bad("POST", "/Users", 400, "invalidSyntax", raw=b'{"userName": "\xff"}'),
    "empty body": Bad("POST", "/Users", 400, "invalidSyntax", raw=b""),
    "json nested 100,000 deep": Bad(
        "POST", "/Users", 400, "invalidSyntax", raw=b"[" * 100_000, mentions="deeply"
    ),
    "integer of 5,000 digits": Bad(
        "POST",
        "/Users",
        400,
        "invalidSyntax",
        raw=b'{"userName": "x", "title": ' + b"9" * 5000 + b"}",
        mentions="digits",
    ),
    "unpaired surrogate": Bad(
        "POST",
        "/Users",
        400,
        "invalidValue",
        raw=b'{"schemas": ["' + USER_SCHEMA.encode() + b'"], "userName": "x\\ud800"}',
        mentions="surrogate",
    ),
    "unpaired surrogate in a PATCH": Bad(
        "PATCH",
        f"/Users/{U}",
        400,
        "invalidValue",
        body=patch({"op": "replace", "path": "title", "value": "\udfff"}),
        mentions="surrogate",
    ),
    "text/plain": Bad(
        "POST",
        "/Users",
        415,
        body=user("x"),
        headers={"Content-Type": "text/plain"},
        mentions="Content-Type",
    ),
    "no content type": Bad(
        "PATCH",
        f"/Users/{U}",
        415,
        body=patch({"op": "add", "path": "title", "value": "x"}),
        headers={"Content-Type": ""},
    ),
    "huge body": Bad(
        "POST", "/Users", 413, body=user("big", title="x" * 1_100_000), mentions="bytes"
    ),
    # Users that do not validate
    "missing schemas": Bad(
        "POST", "/Users", 400, "invalidValue", body={"userName": "a"}, mentions="schemas"
    ),
    "unknown schema": Bad(
        "POST", "/Users", 400, body={"schemas": ["urn:example:Pet"], "userName": "a"}
    ),
    "unknown extension": Bad(
        "POST",
        "/Users",
        400,
        body={
            "schemas": [USER_SCHEMA, "urn:example:ext"],
            "userName": "a",
            "urn:example:ext": {"x": 1},
        },
    ),
    "missing userName": Bad(
        "POST", "/Users", 400, body={"schemas": [USER_SCHEMA]}, mentions="userName"
    ),
    "userName wrong type": Bad(
        "POST", "/Users", 400, "invalidValue", body=user(5), mentions="userName"
    ),  # type: ignore[arg-type]
    "active wrong type": Bad("POST", "/Users", 400, body=user("a", active=[1]), mentions="active"),
    "emails not a list": Bad(
        "POST", "/Users", 400, body=user("a", emails="a@b.c"), mentions="emails"
    ),
    "unknown attribute": Bad(
        "POST", "/Users", 400, body=user("a", shoeSize=42), mentions="shoeSize"
    ),
    "duplicate userName": Bad(
        "POST", "/Users", 409, "uniqueness", body=user("TAKEN@acme.com"), mentions="taken@acme.com"
    ),
    "put duplicate userName": Bad(
        "PUT",
        f"/Users/{U}",
        409,
        "uniqueness",
        body=user("other@acme.com"),
        mentions="other@acme.com",
    ),
    "two primary emails": Bad(
        "POST",
        "/Users",
        400,
        body=user(
            "a", emails=[{"value": "a@x", "primary": True}, {"value": "b@x", "primary": True}]
        ),
    ),
    "group without displayName": Bad(
        "POST", "/Groups", 400, body={"schemas": [GROUP_SCHEMA]}, mentions="displayName"
    ),
    "group with unknown member": Bad(
        "POST", "/Groups", 400, "invalidValue", body=group("g", ["nobody"]), mentions="nobody"
    ),
    "member without value": Bad(
        "POST",
        "/Groups",
        400,
        "invalidValue",
        body={"schemas": [GROUP_SCHEMA], "displayName": "g", "members": [{"display": "x"}]},
    ),
    # PATCH
    "patch without schemas": Bad(
        "PATCH",
        f"/Users/{U}",
        400,
        body={"Operations": [{"op": "add", "path": "title", "value": "x"}]},
    ),
    "patch without operations": Bad("PATCH", f"/Users/{U}", 400, body={"schemas": [PATCH_SCHEMA]}),
    "patch unknown op": Bad(
        "PATCH",
        f"/Users/{U}",
        400,
        "invalidValue",
        body=patch({"op": "merge", "path": "title", "value": "x"}),
        mentions="merge",
    ),
    "patch bad path syntax": Bad(
        "PATCH",
        f"/Users/{U}",
        400,
        body=patch({"op": "replace", "path": "emails[type eq", "value": "x"}),
    ),
    "patch unknown path": Bad(
        "PATCH",
        f"/Users/{U}",
        400,
        body=patch({"op": "replace", "path": "shoeSize", "value": 1}),
        mentions="shoeSize",
    ),
    "patch remove without path": Bad(
        "PATCH", f"/Users/{U}", 400, "noTarget", body=patch({"op": "remove"})
    ),
    "patch add without value": Bad(
        "PATCH", f"/Users/{U}", 400, "invalidValue", body=patch({"op": "add", "path": "title"})
    ),
    "patch removes a required attribute": Bad(
        "PATCH",
        f"/Users/{U}",
        400,
        body=patch({"op": "remove", "path": "userName"}),
        mentions="userName",
    ),
    "patch read-only id": Bad(
        "PATCH",
        f"/Users/{U}",
        400,
        "mutability",
        body=patch({"op": "replace", "path": "id", "value": "x"}),
    ),
    "patch read-only groups": Bad(
        "PATCH",
        f"/Users/{U}",
        400,
        "mutability",
        body=patch({"op": "add", "path": "groups", "value": [{"value": "x"}]}),
    ),
    "patch half valid": Bad(
        "PATCH",
        f"/Users/{U}",
        400,
        "invalidValue",
        body=patch(
            {"op": "replace", "path": "title", "value": "changed"},
            {"op": "replace", "path": "userName", "value": 42},
        ),
        mentions="userName",
    ),
    "patch group member sub-attribute": Bad(
        "PATCH",
        f"/Groups/{G}",
        400,
        "mutability",
        body=patch({"op": "replace", "path": 'members[value eq "x"].display', "value": "y"}),
    ),
    "patch group unknown member": Bad(
        "PATCH",
        f"/Groups/{G}",
        400,
        "invalidValue",
        body=patch(
            {"op": "replace", "path": "displayName", "value": "renamed"},
            {"op": "add", "path": "members", "value": [{"value": "ghost"}]},
        ),
        mentions="ghost",
    ),
    "patch group members not objects": Bad(
        "PATCH",
        f"/Groups/{G}",
        400,
        "invalidValue",
        body=patch({"op": "add", "path": "members", "value": ["just-an-id"]}),
    ),
    # Queries
    "filter syntax": Bad("GET", "/Users", 400, "invalidFilter", params={"filter": "userName eq"}),
    "filter unknown attribute": Bad(
        "GET",
        "/Users",
        400,
        "invalidFilter",
        params={"filter": "shoeSize eq 42"},
        mentions="shoeSize",
    ),
    "filter ordering on boolean": Bad(
        "GET", "/Users", 400, "invalidFilter", params={"filter": "active gt true"}
    ),
    "filter unbalanced": Bad(
        "GET", "/Groups", 400, "invalidFilter", params={"filter": '(displayName eq "x"'}
    ),
    "filter too long": Bad(
        "GET",
        "/Users",
        400,
        params={"filter": " or ".join(['userName eq "x"'] * 400)},
        mentions="filter",
    ),
    "filter too complex": Bad(
        "GET",
        "/Users",
        400,
        "invalidFilter",
        params={"filter": " or ".join(f'userName eq "u{n}"' for n in range(101))},
        mentions="comparisons",
    ),
    "filter with an unpaired surrogate": Bad(
        "GET",
        "/Users",
        400,
        "invalidFilter",
        params={"filter": 'userName eq "\\ud800"'},
        mentions="surrogate",
    ),
    "bad startIndex": Bad("GET", "/Users", 400, params={"startIndex": "first"}),
    "bad count": Bad("GET", "/Users", 400, params={"count": "many"}),
    "bad sortOrder": Bad(
        "GET", "/Users", 400, params={"sortBy": "userName", "sortOrder": "sideways"}
    ),
    "bad cursor": Bad("GET", "/Users", 400, "invalidCursor", params={"cursor": "bm90LWEtY3Vyc29y"}),
    "search bad filter": Bad(
        "POST",
        "/Users/.search",
        400,
        "invalidFilter",
        body={"schemas": [SEARCH_SCHEMA], "filter": "userName zz 1"},
    ),
    "root search unknown attribute": Bad(
        "POST",
        "/.search",
        400,
        "invalidFilter",
        body={"schemas": [SEARCH_SCHEMA], "filter": "shoeSize eq 1"},
    ),
    # Versions
    "put stale etag": Bad(
        "PUT", f"/Users/{U}", 412, body=user("taken@acme.com"), headers={"If-Match": 'W/"99"'}
    ),
    "patch stale etag": Bad(
        "PATCH",
        f"/Groups/{G}",
        412,
        body=patch({"op": "replace", "path": "displayName", "value": "x"}),
        headers={"If-Match": 'W/"99"'},
    ),
    "delete stale etag": Bad(
        "DELETE", f"/Users/{U}", 412, headers={"If-Match": 'W/"99"'}, mentions="If-Match"
    ),
    # Addresses
    "unknown user": Bad("GET", "/Users/no-such-id", 404, mentions="no-such-id"),
    "unknown group patch": Bad(
        "PATCH",
        "/Groups/no-such-id",
        404,
        body=patch({"op": "replace", "path": "displayName", "value": "x"}),
    ),
    "unknown endpoint": Bad("GET", "/Pets", 404),
    "nul in id": Bad("GET", "/Users/a%00b", 404),
    "nul in id, patched": Bad(
        "PATCH", "/Users/a%00b", 404, body=patch({"op": "replace", "path": "title", "value": "x"})
    ),
    "nul in id, replaced": Bad("PUT", "/Users/a%00b", 404, body=user("nul@acme.com")),
    "nul in body": Bad(
        "POST", "/Users", 400, "invalidValue", body=user("a\u0000b"), mentions="NUL"
    ),
    "nul in filter": Bad("GET", "/Users", 400, params={"filter": 'userName eq "a\u0000"'}),
    "wrong method": Bad("PUT", "/Users", 405),
    # Bulk
    "bulk not a bulk request": Bad("POST", "/Bulk", 400, body={"schemas": [BULK_SCHEMA]}),
    "bulk wrong schema": Bad(
        "POST",
        "/Bulk",
        400,
        "invalidValue",
        body={"schemas": [PATCH_SCHEMA], "Operations": []},
    ),
    "bulk too many operations": Bad(
        "POST",
        "/Bulk",
        413,
        "tooMany",
        body={
            "schemas": [BULK_SCHEMA],
            "Operations": [{"method": "DELETE", "path": f"/Users/{U}"}] * 1001,
        },
    ),
}


@pytest.fixture
def populated(scim: DirectoryClient) -> dict[str, str]:
    taken = scim.http.post("/Users", json=user("taken@acme.com", title="Original")).json()
    scim.http.post("/Users", json=user("other@acme.com"))
    created_group = scim.http.post("/Groups", json=group("Team", [taken["id"]])).json()
    return {"user": taken["id"], "group": created_group["id"]}


def _state(scim: DirectoryClient) -> Any:
    return [
        scim.http.get(endpoint, params={"count": 1000}).json().get("Resources", [])
        for endpoint in ("/Users", "/Groups")
    ]


@pytest.mark.parametrize("case", CORPUS.values(), ids=CORPUS.keys())
def test_bad_request_gets_a_precise_error_and_changes_nothing(
    scim: DirectoryClient, populated: dict[str, str], case: Bad
) -> None:
    before = _state(scim)
    path = case.path.format(**populated)
    content = (
        case.raw
        if case.raw is not None
        else (json.dumps(case.body).encode() if case.body is not None else None)
    )
    headers = {k: v for k, v in case.headers.items() if v}
    if "Content-Type" in case.headers and not case.headers["Content-Type"]:
        headers["Content-Type"] = ""
    response = scim.http.request(
        case.method, path, content=content, params=case.params, headers=headers
    )

    assert response.status_code == case.status, response.text
    assert response.headers["content-type"].startswith("application/scim+json")
    error = response.json()
    assert error["schemas"] == [ERROR_SCHEMA]
    assert error["status"] == str(case.status)
    if case.scim_type is not None:
        assert error.get("scimType") == case.scim_type, error
    assert error.get("detail"), error
    if case.mentions is not None:
        assert case.mentions.lower() in error["detail"].lower(), error["detail"]
    assert _state(scim) == before


def test_if_none_match_with_the_current_version_is_not_modified(
    scim: DirectoryClient, populated: dict[str, str]
) -> None:
    current = scim.http.get(f"/Users/{populated['user']}")
    again = scim.http.get(
        f"/Users/{populated['user']}", headers={"If-None-Match": current.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.content == b""


def test_head_answers_as_get_without_a_body(
    scim: DirectoryClient, populated: dict[str, str]
) -> None:
    """RFC 9110 §9.3.2: the same status and headers as GET, and no body."""
    for path in (f"/Users/{populated['user']}", "/Users", "/ServiceProviderConfig"):
        got = scim.http.get(path)
        head = scim.http.head(path)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b"", path
        for name in ("content-type", "content-length", "etag"):
            assert head.headers.get(name) == got.headers.get(name), (path, name)
    assert scim.http.head("/Users/no-such-id").status_code == 404


def test_a_method_not_served_is_405_with_what_is_allowed(scim: DirectoryClient) -> None:
    """RFC 9110 §15.5.6: a 405 lists the methods the resource serves in ``Allow``."""
    for method, path, allowed in (
        ("PUT", "/Users", "GET, POST, HEAD"),
        ("POST", "/Users/some-id", "DELETE, GET, PATCH, PUT, HEAD"),
        ("DELETE", "/Schemas", "GET, HEAD"),
        ("GET", "/Bulk", "POST"),
    ):
        answer = scim.http.request(method, path)
        assert answer.status_code == 405, (method, path, answer.text)
        assert answer.headers["allow"] == allowed, (method, path)
        assert answer.json()["detail"].startswith(f"{method} is not served here: use {allowed}")
