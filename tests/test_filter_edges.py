"""Filters whose values sit at the edge of what a type can hold: a precise 400, never a 5xx.

The service tier (``tests/service/test_filter_edge_sweep.py``) sweeps every kind of
filterable attribute with every operator and edge value of ``filter_edge_cases``.
Here a sample of them, and random combinations, go through GET and POST
``/.search`` on each backend: a refusal reaches the client as a 400 with
``scimType`` invalidFilter, an answer as a 200.
"""

import itertools
import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import DirectoryClient, LiveServer
from filter_edge_cases import (
    EDGE,
    EDGE_DEFINITION,
    EDGE_USER,
    EDGE_VALUES,
    OPERATORS,
    USER_ATTRIBUTES,
)
from scim_payloads import ENTERPRISE_SCHEMA, SEARCH_SCHEMA, group
from scimgate.service.provisioning import extension_schemas

HTTP_SAMPLE = [
    "id",
    "userName",
    "meta.created",
    "meta.version",
    "active",
    "emails.value",
    "groups.value",
    f"{ENTERPRISE_SCHEMA}:manager.value",
    *(f"{EDGE}:{name}" for name in ("count", "ratio", "since", "flag", "counts", "site.floor")),
]
"""One attribute of each kind: ``tests/service/test_filter_edge_sweep.py`` sweeps them all."""


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
    created = scim.http.post("/Users", json=EDGE_USER)
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


def test_a_sample_of_the_edge_values_is_answered_or_refused_precisely(
    edge: DirectoryClient,
) -> None:
    for attribute, value in itertools.product(HTTP_SAMPLE, EDGE_VALUES):
        _never_5xx(edge.http, "Users", f"{attribute} eq {value}")
        _never_5xx(edge.http, "Users", f"{attribute} gt {value}", post=False)
    for value in EDGE_VALUES:
        _never_5xx(edge.http, "Groups", f"members.value eq {value}")
        _never_5xx(edge.http, "Users", f"emails[value eq {value}]")


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
