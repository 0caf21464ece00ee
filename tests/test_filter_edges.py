"""Filters whose values sit at the edge of what a type can hold: a precise 400, never a 5xx.

Every kind of filterable attribute (a column, a document value, a multi-valued
value, a value path, a membership, an extension attribute of each SCIM type) is
compared, with every operator, with values at the edge of the calendar, of
64-bit integers and of floats, and with values of the wrong type, through GET
and POST ``/.search`` on each backend.
"""

import itertools
import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import DirectoryClient, LiveServer
from scim_payloads import ENTERPRISE_SCHEMA, SEARCH_SCHEMA, USER_SCHEMA, group, user
from scimgate.service.provisioning import extension_schemas

EDGE = "urn:ietf:params:scim:schemas:extension:edge:2.0:User"
EDGE_DEFINITION: dict[str, Any] = {
    "id": EDGE,
    "name": "EdgeUser",
    "attributes": [
        {"name": name, "type": kind, "multiValued": multi}
        for name, kind, multi in [
            ("count", "integer", False),
            ("ratio", "decimal", False),
            ("since", "dateTime", False),
            ("flag", "boolean", False),
            ("counts", "integer", True),
            ("ratios", "decimal", True),
            ("dates", "dateTime", True),
            ("tags", "string", True),
        ]
    ]
    + [
        {
            "name": "site",
            "type": "complex",
            "multiValued": False,
            "subAttributes": [
                {"name": "floor", "type": "integer"},
                {"name": "opened", "type": "dateTime"},
            ],
        }
    ],
}

USER_ATTRIBUTES = [
    "id",  # column
    "externalId",
    "userName",  # folded column
    "meta.created",  # timestamp columns
    "meta.lastModified",
    "meta.version",
    "meta.resourceType",
    "active",  # document boolean
    "title",  # document string
    "name.givenName",  # complex sub-attribute
    "emails.value",  # multi-valued sub-attribute
    "emails.primary",
    "x509Certificates.value",  # binary
    "photos.value",  # reference
    "groups.value",  # membership
    f"{ENTERPRISE_SCHEMA}:employeeNumber",
    f"{ENTERPRISE_SCHEMA}:manager.value",
    *(f"{EDGE}:{name}" for name in ("count", "ratio", "since", "flag")),
    *(f"{EDGE}:{name}" for name in ("counts", "ratios", "dates", "tags")),
    f"{EDGE}:site.floor",
    f"{EDGE}:site.opened",
]
VALUE_PATHS = ["emails.value", "emails.primary", "x509Certificates.value", "groups.value"]
GROUP_ATTRIBUTES = ["displayName", "members.value", "members.display", "meta.created"]

OPERATORS = ["eq", "ne", "co", "sw", "ew", "gt", "le"]
"""Each way an operator is translated: equality, its negation, the substrings, an ordering."""

EDGE_VALUES = [
    '"0001-01-01T00:00:00+14:00"',  # before year 1 in UTC
    '"9999-12-31T23:59:59-14:00"',  # after year 9999 in UTC
    '"9999-12-31T23:59:59.999999Z"',
    '"2024-02-30T00:00:00Z"',  # no such day
    '"2024-01-01T00:00:00"',  # no offset
    "9223372036854775808",  # 2^63
    "1" + "0" * 40,
    "1e308",
    "1e309",  # a float overflows
    "1e-400",  # underflows to 0
    "2.5",
    "true",
    "null",
    '"NaN"',
    '"1e309"',
    '"W/\\"99999999999999999999\\""',  # a version beyond 64 bits
    '"W/\\"²\\""',  # a digit int() refuses
    '"\\u0000"',
]


def _searches(
    http: httpx.Client, resource: str, scim_filter: str, *, post: bool = True
) -> list[httpx.Response]:
    """The filter searched with GET, and (``post``) with POST ``/.search``."""
    answers = [http.get(f"/{resource}", params={"filter": scim_filter, "count": 1})]
    if post:
        answers.append(
            http.post(
                f"/{resource}/.search",
                json={"schemas": [SEARCH_SCHEMA], "filter": scim_filter, "count": 1},
            )
        )
    return answers


def _never_5xx(http: httpx.Client, resource: str, scim_filter: str, *, post: bool = True) -> None:
    """Neither a GET nor (``post``) a POST ``/.search`` with the filter fails the server."""
    answers = _searches(http, resource, scim_filter, post=post)
    for answer in answers:
        assert answer.status_code < 500, (scim_filter, answer.request.method, answer.text)
        if answer.status_code == 400:
            assert answer.json().get("scimType") == "invalidFilter", (scim_filter, answer.text)
        else:
            assert answer.status_code == 200, (scim_filter, answer.text)


@pytest.fixture
def edge(live_server: LiveServer, scim: DirectoryClient) -> DirectoryClient:
    """A directory with the edge extension, a user holding a value of each kind, and a group."""
    extension_schemas.register(live_server.engine, scim.directory_id, "User", EDGE_DEFINITION)
    created = scim.http.post(
        "/Users",
        json={
            **user("edge", title="t", name={"givenName": "G"}),
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA, EDGE],
            "emails": [{"value": "edge@example.com", "primary": True}],
            ENTERPRISE_SCHEMA: {"employeeNumber": "7"},
            EDGE: {
                "count": 5,
                "ratio": 1.5,
                "since": "2020-01-01T00:00:00Z",
                "flag": True,
                "counts": [1, 2],
                "ratios": [2.5],
                "dates": ["2020-01-01T00:00:00Z"],
                "tags": ["a"],
                "site": {"floor": 3, "opened": "2021-06-01T12:00:00Z"},
            },
        },
    )
    assert created.status_code == 201, created.text
    made = scim.http.post("/Groups", json=group("edge group", [created.json()["id"]]))
    assert made.status_code == 201, made.text
    return scim


def test_the_reported_dates_are_an_invalid_filter(edge: DirectoryClient) -> None:
    for scim_filter in (
        'meta.created gt "0001-01-01T00:00:00+14:00"',
        'meta.lastModified lt "9999-12-31T23:59:59-14:00"',
    ):
        for answer in _searches(edge.http, "Users", scim_filter):
            assert answer.status_code == 400, answer.text
            body = answer.json()
            assert body["scimType"] == "invalidFilter"
            assert "meta" in body["detail"] and "UTC" in body["detail"]


def test_every_kind_of_attribute_operator_and_edge_value(edge: DirectoryClient) -> None:
    cases = [
        *(
            ("Users", a, o, v)
            for a, o, v in itertools.product(USER_ATTRIBUTES, OPERATORS, EDGE_VALUES)
        ),
        *(
            ("Groups", a, o, v)
            for a, o, v in itertools.product(GROUP_ATTRIBUTES, OPERATORS, EDGE_VALUES)
        ),
    ]
    # Both ways of searching parse the same filter the same way: POST ``/.search`` is sent
    # for one operator of each kind of comparison, GET for every one.
    for resource, attribute, operator, value in cases:
        _never_5xx(
            edge.http, resource, f"{attribute} {operator} {value}", post=operator in ("eq", "co")
        )
    for attribute, operator, value in itertools.product(VALUE_PATHS, OPERATORS, EDGE_VALUES):
        head, sub = attribute.split(".", 1)
        _never_5xx(edge.http, "Users", f"{head}[{sub} {operator} {value}]", post=operator == "eq")


def test_values_of_the_extension_types_still_match(edge: DirectoryClient) -> None:
    """The bounds refuse only what cannot be compared: in-range values find the user."""
    for scim_filter in (
        f"{EDGE}:count eq 5",
        f"{EDGE}:ratio gt 1.25",
        f'{EDGE}:since lt "2020-01-01T10:00:00+09:00"',
        f"{EDGE}:counts eq 2",
        f"{EDGE}:ratios eq 2.5",
        f'{EDGE}:dates ge "2020-01-01T00:00:00Z"',
        f"{EDGE}:site.floor le 3",
        'meta.created gt "0001-01-01T00:00:00Z"',
        'meta.created lt "9999-12-31T23:59:59Z"',
    ):
        for answer in _searches(edge.http, "Users", scim_filter):
            assert answer.status_code == 200, (scim_filter, answer.text)
            assert answer.json()["totalResults"] == 1, scim_filter


_JSON_VALUES = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["1e309", "-1e309", "1e-400", "true", "false", "null"]),
    st.datetimes(timezones=st.timezones()).map(lambda stamp: json.dumps(stamp.isoformat())),
    st.text(max_size=8).map(json.dumps),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    terms=st.lists(
        st.tuples(st.sampled_from(USER_ATTRIBUTES), st.sampled_from(OPERATORS), _JSON_VALUES),
        min_size=1,
        max_size=3,
    ),
    joiner=st.sampled_from([" and ", " or "]),
    negated=st.booleans(),
)
def test_random_comparisons_never_fail_the_server(
    edge: DirectoryClient, terms: list[tuple[str, str, str]], joiner: str, negated: bool
) -> None:
    scim_filter = joiner.join(f"{a} {o} {v}" for a, o, v in terms)
    _never_5xx(edge.http, "Users", f"not ({scim_filter})" if negated else scim_filter)
