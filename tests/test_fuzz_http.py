"""Fuzzing over HTTP: random requests to one directory's SCIM surface and to the management API.

Hypothesis draws methods, paths (dot segments, encoded slashes, NUL, long
and non-ASCII segments, the other directory's ids), query strings, headers
(media types, charsets, a gzip ``Content-Encoding`` over plain bytes, junk
``If-Match``, large headers) and bodies (random JSON, SCIM documents with
wrong types, deep nesting, large numbers, invalid UTF-8, UTF-16 and BOMs,
empty and non-JSON bodies). They are sent as raw bytes, unnormalised, with
the attacker directory's token. No answer may be a server error, every SCIM
4xx carries the SCIM error envelope, and the victim directory is unchanged.

The example count is small in CI. For a longer, randomly seeded run, set
``SCIMGATE_PROPERTY_EXAMPLES`` (for example
``SCIMGATE_PROPERTY_EXAMPLES=2000 pytest tests/test_fuzz_http.py``).

Random nesting goes 500 levels deep; fixed cases add 100,000 levels, integers
of 5,000 digits and unpaired surrogates (``"\\ud800"``) in bodies and filters,
each of which once answered 500.
"""

import gzip
import http.client
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import DirectoryClient, LiveServer, new_directory
from property_support import near_misses, property_settings, snapshot
from scim_payloads import (
    BULK_SCHEMA,
    ENTERPRISE_SCHEMA,
    ERROR_SCHEMA,
    GROUP_SCHEMA,
    PATCH_SCHEMA,
    SEARCH_SCHEMA,
    USER_SCHEMA,
    group,
    user,
)
from scimgate.service.administration import tenants

MAX_DEPTH = 500
"""Deepest JSON nesting drawn at random (deeper cases are among the fixed bodies)."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def send(
    server: LiveServer, method: str, target: str, headers: dict[str, str], body: bytes | None
) -> Answer:
    """One request exactly as given: httpx would normalise the path and some headers."""
    address = urlsplit(server.url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=60)
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return Answer(
            response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        )
    finally:
        connection.close()


def check_scim_answer(method: str, target: str, answer: Answer) -> None:
    """No 5xx; a 429 says when to retry; every other 4xx is a SCIM error with its status.

    The one 5xx allowed is the documented 501 of ``/Me`` (tokens belong to no user).
    """
    documented = answer.status == 501 and urlsplit(target).path.endswith("/Me")
    assert answer.status < 500 or documented, (method, target, answer.status, answer.body[:500])
    if answer.status == 429:
        assert answer.headers.get("retry-after"), answer.headers
    elif answer.status >= 400 and method != "HEAD" and target.startswith("/scim/v2/"):
        assert answer.headers.get("content-type", "").startswith("application/scim+json"), (
            method,
            target,
            answer.status,
            answer.body[:500],
        )
        error = json.loads(answer.body)
        assert ERROR_SCHEMA in error["schemas"], (method, target, error)
        assert error["status"] == str(answer.status), (method, target, error)


@dataclass
class Directories:
    server: LiveServer
    attacker: DirectoryClient
    victim: DirectoryClient
    attacker_ids: list[str]
    victim_ids: list[str]


def _populate(directory: DirectoryClient, label: str) -> list[str]:
    ids = []
    for n in range(3):
        created = directory.http.post(
            "/Users",
            json=user(
                f"{label}{n}@fuzz.example",
                externalId=f"{label}-{n}",
                emails=[{"value": f"{label}{n}@fuzz.example", "type": "work", "primary": True}],
                name={"givenName": label, "familyName": str(n)},
            ),
        )
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    team = directory.http.post("/Groups", json=group(f"{label} team", ids[:2]))
    assert team.status_code == 201, team.text
    return [*ids, team.json()["id"]]


@pytest.fixture
def directories(live_server: LiveServer) -> Directories:
    attacker = new_directory(live_server, "attacker")
    victim = new_directory(live_server, "victim")
    return Directories(
        live_server, attacker, victim, _populate(attacker, "attacker"), _populate(victim, "victim")
    )


# Bodies


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
USER_ATTRIBUTES = (
    "userName",
    "externalId",
    "displayName",
    "active",
    "emails",
    "name",
    "title",
    "groups",
    "id",
    "meta",
    "password",
    "phoneNumbers",
    "addresses",
    "roles",
    "manager",
)
OPS = ("add", "replace", "remove", "Add", "Replace", "Remove", "merge", "", "copy")
PATCH_PATHS = (
    "title",
    "userName",
    "members",
    'members[value eq "x"]',
    'emails[type eq "work"].value',
    "name.givenName",
    f"{ENTERPRISE_SCHEMA}:manager",
    "groups",
    "id",
    "meta.version",
    "emails[",
    "]",
    "..",
    "$",
)


@st.composite
def scim_documents(draw: st.DrawFn, ids: list[str]) -> Any:
    """SCIM-shaped documents whose values have random (often wrong) types, some naming ids."""
    value = st.one_of(
        JSON_VALUES, st.sampled_from(ids), st.just([{"value": draw(st.sampled_from(ids))}])
    )
    kind = draw(st.sampled_from(["user", "group", "patch", "bulk", "search"]))
    if kind == "user":
        body: dict[str, Any] = {"schemas": draw(st.sampled_from([[USER_SCHEMA], []]) | JSON_VALUES)}
        for name in draw(st.lists(st.sampled_from(USER_ATTRIBUTES), max_size=5)):
            body[name] = draw(value)
        return body
    if kind == "group":
        return {
            "schemas": [GROUP_SCHEMA],
            "displayName": draw(value),
            "members": draw(st.lists(st.fixed_dictionaries({"value": value}), max_size=3) | value),
        }
    if kind == "patch":
        operation = st.fixed_dictionaries(
            {"op": st.sampled_from(OPS)},
            optional={"path": st.sampled_from(PATCH_PATHS) | st.text(max_size=20), "value": value},
        )
        return {
            "schemas": [PATCH_SCHEMA],
            "Operations": draw(st.lists(operation, max_size=3) | value),
        }
    if kind == "bulk":
        operation = st.fixed_dictionaries(
            {
                "method": st.sampled_from(["POST", "PUT", "PATCH", "DELETE", "GET", "x"]),
                "path": st.sampled_from(["/Users", "/Groups", "/Bulk"])
                | st.sampled_from(ids).map(lambda i: f"/Users/{i}")
                | st.sampled_from(ids).map(lambda i: f"/Groups/{i}"),
            },
            optional={"bulkId": st.text(max_size=5), "data": value, "version": value},
        )
        return {
            "schemas": [BULK_SCHEMA],
            "Operations": draw(st.lists(operation, max_size=4)),
            "failOnErrors": draw(value),
        }
    return {
        "schemas": [SEARCH_SCHEMA],
        **draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "filter": FILTERS,
                    "startIndex": value,
                    "count": value,
                    "sortBy": value,
                    "attributes": value,
                    "cursor": value,
                },
            )
        ),
    }


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def bodies(ids: list[str]) -> st.SearchStrategy[bytes | None]:
    as_json = st.one_of(JSON_VALUES, scim_documents(ids))
    return st.one_of(
        st.none(),
        st.just(b""),
        as_json.map(lambda v: json.dumps(v).encode()),
        as_json.map(lambda v: json.dumps(v, ensure_ascii=False).encode()),
        as_json.map(lambda v: json.dumps(v).encode("utf-16")),  # with its BOM
        as_json.map(lambda v: b"\xef\xbb\xbf" + json.dumps(v).encode()),
        st.integers(1, MAX_DEPTH).map(nested),
        st.integers(1, MAX_DEPTH).map(lambda d: b'{"a":' * d + b"1" + b"}" * d),
        st.sampled_from(
            [
                b'{"userName": "\xff\xfe"}',
                b'{"schemas": ["' + USER_SCHEMA.encode() + b'"], "userName": ' + b"9" * 4000 + b"}",
                b'{"schemas": ["' + USER_SCHEMA.encode() + b'"], "userName": "x", "title": 1e999}',
                b'{"schemas": ["' + USER_SCHEMA.encode() + b'"], "userName": "x", "title": NaN}',
                b'{"userName": "a", "userName": "b"}',
                b"userName=alice&active=true",
                b"<xml/>",
                b"\x00\x00\x00",
                nested(100_000),
                b'{"schemas": ["'
                + USER_SCHEMA.encode()
                + b'"], "userName": "x", "title": '
                + b"9" * 5000
                + b"}",
                b'{"schemas": ["' + USER_SCHEMA.encode() + b'"], "userName": "x\\ud800"}',
                b'{"schemas": ["'
                + USER_SCHEMA.encode()
                + b'"], "userName": "x", "title": "\\udfff"}',
                b'{"schemas": ["' + PATCH_SCHEMA.encode() + b'"], "Operations": [{"op": "replace", '
                b'"path": "title", "value": "\\ud800"}]}',
                b"null",
                b"{",
            ]
        ),
        st.binary(max_size=200),
        st.text(max_size=200).map(str.encode),
    )


# Paths, queries and headers

FILTERS = st.one_of(
    st.sampled_from(
        [
            'userName eq "victim0@fuzz.example"',
            "userName pr",
            'emails[type eq "work" and value co "@"]',
            'meta.lastModified gt "2020-01-01T00:00:00Z"',
            'name.givenName sw "v"',
            "not (active eq true)",
            "((((((userName pr))))))",
            'userName eq "x" or ' * 50 + "userName pr",
            "title eq 99999999999999999999999999999",
            "title gt 1e308",
            'userName eq "\\u0000"',
            'userName eq "\\ud800"',
            'emails[value co "\\udfff"]',
            "active eq tru",
            "userName eq",
            "(",
            "]",
            "",
        ]
    ),
    st.text(max_size=60),
)


def id_segments(ids: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(ids),
        st.sampled_from(ids).flatmap(lambda i: st.sampled_from(near_misses(i))).map(quote),
        st.sampled_from(
            ["..", "%2e%2e", "%2E%2E%2F", "%2F", "%00", "a%00b", "%ff%fe", "%", "%zz", ".", "~"]
        ),
        st.integers(1, 4000).map(lambda n: "a" * n),
        st.text(min_size=1, max_size=30).map(lambda t: quote(t, safe="")),
    )


ENDPOINTS = [
    "/Users",
    "/Groups",
    "/Users/.search",
    "/Groups/.search",
    "/.search",
    "/Bulk",
    "/Me",
    "/ServiceProviderConfig",
    "/ResourceTypes",
    "/ResourceTypes/User",
    f"/Schemas/{USER_SCHEMA}",
    "",
    "/",
]


@st.composite
def targets(draw: st.DrawFn, d: Directories) -> str:
    """A request target under the attacker's base URL (or escaping it by dot segments)."""
    ids = d.attacker_ids + d.victim_ids
    victim = d.victim.directory_id
    base = f"/scim/v2/{d.attacker.directory_id}"
    prefix = draw(
        st.sampled_from(
            [base] * 8
            + [
                f"{base}/../{victim}",
                f"{base}%2F..%2F{victim}",
                f"{base}/%2e%2e/{victim}",
                f"{base}//",
            ]
        )
    )
    endpoint = draw(
        st.sampled_from(ENDPOINTS)
        | st.sampled_from(ENDPOINTS)
        | st.sampled_from(d.attacker_ids).map(lambda i: f"/Users/{i}")
        | st.sampled_from(d.attacker_ids).map(lambda i: f"/Groups/{i}")
        | id_segments(ids).map(lambda s: f"/Users/{s}")
        | id_segments(ids).map(lambda s: f"/Groups/{s}")
        | id_segments(ids).map(lambda s: f"/{s}")
        | st.sampled_from(ids).map(lambda i: f"/Users/{i}/..%2F..%2F..%2F{victim}%2FUsers")
    )
    names = st.sampled_from(
        [
            "filter",
            "sortBy",
            "sortOrder",
            "attributes",
            "excludedAttributes",
            "startIndex",
            "count",
            "cursor",
            "aadOptscim062020",
        ]
    ) | st.text(max_size=8)
    values = st.one_of(
        FILTERS,
        st.sampled_from(
            [
                "userName",
                "name.givenName desc",
                "emails.value",
                f"{ENTERPRISE_SCHEMA}:manager",
                "members",
                "ascending",
                "descending",
                "-1",
                "0",
                "1e3",
                "99999999999999999999",
                "bm90LWEtY3Vyc29y",
                "$",
                "*",
            ]
        ),
        st.integers(-(10**30), 10**30).map(str),
    )
    pairs = draw(st.lists(st.tuples(names, values), max_size=4))
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)
    raw = draw(st.sampled_from(["", "", "&&", "=", "filter=%zz", "count=%ff", "a=%00"]))
    joined = "&".join(part for part in (query, raw) if part)
    return f"{prefix}{endpoint}" + (f"?{joined}" if joined else "")


HEADER_TEXT = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40
)
CONTENT_TYPES = st.sampled_from(
    [
        "application/scim+json",
        "application/json",
        "application/scim+json; charset=utf-8",
        "application/json; charset=utf-16",
        "application/scim+json; charset=latin-1",
        "APPLICATION/SCIM+JSON",
        "application/scim+json;;;",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "*/*",
        "",
        "(none)",
    ]
) | HEADER_TEXT.map(str.strip)


@st.composite
def headers(draw: st.DrawFn, token: str) -> dict[str, str]:
    found = {"Authorization": f"Bearer {token}"}
    content_type = draw(st.sampled_from(["application/scim+json"] * 3) | CONTENT_TYPES)
    if content_type != "(none)":
        found["Content-Type"] = content_type
    optional = {
        "Content-Encoding": st.sampled_from(["gzip", "deflate", "br", "identity", "x"]),
        "If-Match": st.sampled_from(['W/"1"', '"1"', "*", 'W/"', "W/", ""]) | HEADER_TEXT,
        "If-None-Match": st.sampled_from(['W/"1"', "*", "junk"]) | HEADER_TEXT,
        "Accept": st.sampled_from(["application/scim+json", "text/html", "*/*;q=0"]) | HEADER_TEXT,
        "Accept-Charset": st.sampled_from(["utf-16", "latin-1", "x"]),
        "User-Agent": st.sampled_from(["Okta SCIM Client 1.0.0", "Microsoft.AAD", ""])
        | HEADER_TEXT,
        "X-Large": st.integers(1, 6000).map(lambda n: "x" * n),
    }
    for name in draw(st.lists(st.sampled_from(sorted(optional)), unique=True, max_size=4)):
        found[name] = draw(optional[name]).strip()
    return found


METHODS = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "GET", "POST", "PATCH"]) | (
    st.sampled_from(["HEAD", "OPTIONS", "TRACE", "PROPFIND"])
)


def test_random_requests_to_my_directory_never_fail_the_server_or_reach_another(
    directories: Directories,
) -> None:
    d = directories
    before = snapshot(d.server, d.victim)
    statuses: dict[int, int] = {}

    @property_settings(default_examples=300)
    @given(
        METHODS,
        targets(d),
        headers(d.attacker.token),
        bodies(d.attacker_ids + d.victim_ids),
        st.booleans(),
    )
    def request(
        method: str, target: str, sent: dict[str, str], body: bytes | None, zipped: bool
    ) -> None:
        if zipped and body is not None and sent.get("Content-Encoding") == "gzip":
            body = gzip.compress(body)  # sometimes the gzip is real, sometimes it is not
        answer = send(d.server, method, target, sent, body)
        statuses[answer.status] = statuses.get(answer.status, 0) + 1
        check_scim_answer(method, target, answer)

    request()
    assert snapshot(d.server, d.victim) == before
    # The run reached past authentication and routing, not only into refusals.
    assert any(200 <= status < 300 for status in statuses), statuses
    assert any(status == 400 for status in statuses), statuses


MANAGEMENT_PATHS = (
    "/organizations",
    "/organizations/{org}",
    "/organizations/{org}/directories",
    "/organizations/{org}/setup-links",
    "/directories",
    "/directories/{directory}",
    "/directories/{directory}/tokens",
    "/directories/{directory}/tokens/rotate",
    "/directories/{directory}/mappings",
    "/directories/{directory}/roles",
    "/directories/{directory}/users",
    "/directories/{directory}/users/{user}",
    "/directories/{directory}/groups",
    "/directories/{directory}/groups/{group}",
    "/directories/{directory}/drift",
    "/keys",
    "/audit",
    "/events",
    "/webhooks",
    "/users/lookup",
    "/../organizations",
    "/%2e%2e/api/v1/keys",
)


def test_the_management_api_without_an_admin_key_answers_nothing(
    directories: Directories,
) -> None:
    """No key, a junk key, or a directory's SCIM token: 401, 403 or 404 and never any data."""
    d = directories
    org_id = next(
        x.organization_id
        for x in tenants.list_directories(d.server.engine)
        if x.id == d.victim.directory_id
    )
    values = {
        "org": org_id,
        "directory": d.victim.directory_id,
        "user": d.victim_ids[0],
        "group": d.victim_ids[-1],
    }
    secrets_and_data = [d.victim_ids[0], "victim0@fuzz.example", d.victim.token, d.attacker.token]
    before = snapshot(d.server, d.victim)
    authorizations = st.sampled_from(
        [
            None,
            "",
            "Bearer",
            "Bearer ",
            f"Bearer {d.attacker.token}",
            f"Bearer {d.victim.token}",
            "Bearer scimgate_admin_" + "x" * 43,
            "Basic YWRtaW46YWRtaW4=",
            "bearer " + "A" * 5000,
        ]
    ) | HEADER_TEXT.map(lambda t: f"Bearer {t}".strip())

    @property_settings(default_examples=80)
    @given(
        st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
        st.sampled_from(MANAGEMENT_PATHS),
        authorizations,
        bodies(d.victim_ids),
        st.sampled_from(["", "?count=1000", "?q=victim", "?wait=0&after=0", "?since=2000-01-01"]),
    )
    def request(
        method: str, path: str, authorization: str | None, body: bytes | None, query: str
    ) -> None:
        sent = {"Content-Type": "application/json"}
        if authorization is not None:
            sent["Authorization"] = authorization
        target = "/api/v1" + path.format(**values) + query
        answer = send(d.server, method, target, sent, body)
        if answer.status == 429:
            assert answer.headers.get("retry-after"), answer.headers
        else:
            # The key is checked before the body is read, so no body earns a 400 without one.
            # 405: the method is wrong for the route, refused before the key is looked at.
            assert answer.status in (401, 403, 404, 405), (method, target, answer.status)
        text = answer.body.decode(errors="replace")
        assert not any(secret in text for secret in secrets_and_data), (target, text)

    request()
    assert snapshot(d.server, d.victim) == before
