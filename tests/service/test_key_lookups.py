"""The IdPs' key lookups (``userName eq "…"`` and the like) answer as the general listing does.

``GET /Users`` and ``GET /Groups`` read a lookup in its canonical shape with a
pattern and one indexed query; every other request goes through the filter
grammar, its SQL translation and ``list_resources``. Random directories (names
in mixed case and Unicode, quotes and backslashes, shared externalIds, groups
with members) are asked random lookups, matching or not, in another case or
another Unicode form, escaped, misspelt, with extra parameters, and the
handlers' answers (status and body bytes) must be those of the general path,
on each backend.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from hypothesis import given
from hypothesis import strategies as st
from scim2_models import Context, SCIMException, User
from sqlalchemy import Engine, select
from starlette.requests import Request
from starlette.responses import Response

from factories import new_scope
from property_support import property_settings
from scim_payloads import GROUP_SCHEMA, USER_SCHEMA
from scimgate.api import scim_routes
from scimgate.api.responses import error_response, render
from scimgate.scim.key_lookups import key_lookup
from scimgate.scim.limits import Limits
from scimgate.scim.requests import read_resource, read_search
from scimgate.service.provisioning import groups, key_lookups, listing, users
from scimgate.service.provisioning.scope import Scope
from scimgate.store.tables.resources import users as users_table
from scimgate.store.transactions import reading

NAMES = ["alice", "Élodie", "ß", "straße", "Zoë", "ÅSA", "o'Brien", 'say "hi"', "back\\slash"]
EXTERNAL_IDS = ["E-1", "e-1", "00u1AbC", 'x"y', "back\\slash", "Ünïcode"]
GROUP_NAMES = ["Engineering", "engineering", "Équipe", "All\\Staff", 'The "A" team', "ß team"]
ODD_VALUES = ["", " ", "nobody", "\t", "a\u0301", "É", "\U0001f600", "%20", "x'y", "\\", '"']
QUICK_EXTRA = [
    {},
    {"count": "1"},
    {"count": "2"},
    {"count": "100"},
    {"startIndex": "1"},
    {"excludedAttributes": "members"},
    {"excludedAttributes": "groups,emails", "count": "50"},
]
"""Parameters a lookup of the recognised shape may carry."""
OTHER_EXTRA = [
    {"count": "0"},
    {"count": "007"},
    {"count": "-1"},
    {"startIndex": "2"},
    {"startIndex": "0", "count": "5"},
    {"attributes": "userName,displayName"},
    {"excludedAttributes": "Members,members,urn:ietf:params:scim:schemas:core:2.0:Group:members"},
    {"excludedAttributes": "nothing.such,meta"},
    {"excludedAttributes": "userName,displayName,id"},
    {"excludedAttributes": ""},
    {"sortBy": "id"},
    {"sortOrder": "descending"},
    {"cursor": ""},
    {"unknown": "ignored"},
]


@dataclass
class Stored:
    scope: Scope
    user_keys: dict[str, list[str]]
    group_keys: dict[str, list[str]]
    """Attribute -> the values stored, to look up."""


@st.composite
def population(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """User bodies (userNames unique in any case), then group bodies (members by index)."""
    people = []
    for number in range(draw(st.integers(1, 5))):
        body: dict[str, Any] = {
            "schemas": [USER_SCHEMA],
            "userName": f"{draw(st.sampled_from(NAMES))}{number}",
        }
        if draw(st.booleans()):
            body["externalId"] = draw(st.sampled_from(EXTERNAL_IDS))
        if draw(st.booleans()):
            body["emails"] = [{"value": f"u{number}@Example.com", "type": "work"}]
        people.append(body)
    teams = []
    for number in range(draw(st.integers(0, 3))):
        team: dict[str, Any] = {
            "schemas": [GROUP_SCHEMA],
            "displayName": f"{draw(st.sampled_from(GROUP_NAMES))}{number}",
            "members": sorted(draw(st.sets(st.integers(0, len(people) - 1)))),
        }
        if draw(st.booleans()):
            team["externalId"] = draw(st.sampled_from(EXTERNAL_IDS))
        teams.append(team)
    return people, teams


def _provision(engine: Engine, people: list[dict[str, Any]], teams: list[dict[str, Any]]) -> Stored:
    scope = new_scope(engine, "lookups")
    ids = []
    for body in people:
        model = read_resource(
            scope.models.user, body, Context.RESOURCE_CREATION_REQUEST, "user", scope.users_url
        )
        ids.append(users.create_user(scope, model).id)
    for team in teams:
        body = dict(team, members=[{"value": ids[index]} for index in team["members"]])
        model = read_resource(
            scope.models.group, body, Context.RESOURCE_CREATION_REQUEST, "group", scope.users_url
        )
        groups.create_group(scope, model)
    return Stored(
        scope,
        {
            "userName": [body["userName"] for body in people],
            "externalId": [body["externalId"] for body in people if "externalId" in body],
        },
        {
            "displayName": [team["displayName"] for team in teams],
            "externalId": [team["externalId"] for team in teams if "externalId" in team],
        },
    )


def variants(value: str) -> list[str]:
    """The value as stored, in another case, or in another Unicode normal form."""
    return [
        value,
        value.upper(),
        value.lower(),
        value.swapcase(),
        unicodedata.normalize("NFD", value),
        unicodedata.normalize("NFD", value.upper()),
        value + " ",
    ]


def often(usual: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``usual`` three times in four, else ``odd``."""
    return st.integers(min_value=0, max_value=3).flatmap(lambda n: odd if n == 0 else usual)


@st.composite
def lookup(draw: st.DrawFn, keys: dict[str, list[str]]) -> dict[str, str]:
    """Query parameters of a lookup on one of the keys, mostly canonical, sometimes not."""
    attribute = draw(st.sampled_from(sorted(keys)))
    stored = keys[attribute]
    odd_value = st.sampled_from(ODD_VALUES) | st.text(max_size=8)
    if stored:
        value = draw(
            often(st.sampled_from(stored).map(variants).flatmap(st.sampled_from), odd_value)
        )
    else:
        value = draw(odd_value)
    spelt = draw(often(st.just(attribute), st.sampled_from([attribute.lower(), "id", "title"])))
    operator = draw(often(st.just("eq"), st.sampled_from(["EQ", "ne", "co"])))
    quoted = draw(
        often(
            st.just(json.dumps(value, ensure_ascii=False)),
            st.sampled_from([json.dumps(value), f'"{value}"']),  # unescaped: the grammar decides
        )
    )
    parameters = {"filter": f"{spelt} {operator} {quoted}"}
    parameters.update(draw(often(st.sampled_from(QUICK_EXTRA), st.sampled_from(OTHER_EXTRA))))
    return parameters


def _call(scope: Scope, parameters: dict[str, str], path: str) -> scim_routes.Call:
    request = Request(
        {
            "type": "http",
            "method": "GET",
            "path": path,
            "query_string": urlencode(parameters).encode(),
            "headers": [],
        }
    )
    return scim_routes.Call(request, scope, b"")


def _answer(
    handler: Callable[[scim_routes.Call], Response], call: scim_routes.Call
) -> tuple[int, bytes]:
    """Status and body, as the edge would send them (a SCIM error in its envelope)."""
    try:
        response = handler(call)
    except SCIMException as exc:
        response = error_response(exc)
    return response.status_code, bytes(response.body)


def _general_users(call: scim_routes.Call) -> Response:
    """What ``GET /Users`` answers through the filter grammar and ``list_resources``."""
    search = read_search(call.scope.models.user, call.request.query_params, call.scope.limits)
    page = listing.list_resources(call.scope, listing.USER_KIND, search)
    return render(page, Context.SEARCH_RESPONSE, parameters=search)


def _general_groups(call: scim_routes.Call) -> Response:
    """What ``GET /Groups`` answers through the filter grammar and ``list_resources``."""
    search = read_search(call.scope.models.group, call.request.query_params, call.scope.limits)
    members = scim_routes._with_members(search)
    page = listing.list_resources(call.scope, listing.GROUP_KIND, search, with_members=members)
    return render(page, Context.SEARCH_RESPONSE, parameters=search)


@given(data=st.data(), directory=population())
@property_settings(25)
def test_lookups_answer_as_the_general_path(
    engine: Engine, data: st.DataObject, directory: tuple[list[Any], list[Any]]
) -> None:
    stored = _provision(engine, *directory)
    scope = stored.scope
    for _ in range(10):
        parameters = data.draw(lookup(stored.user_keys))
        call = _call(scope, parameters, "/Users")
        assert _answer(scim_routes.list_users, call) == _answer(_general_users, call), parameters
        parameters = data.draw(lookup(stored.group_keys))
        call = _call(scope, parameters, "/Groups")
        assert _answer(scim_routes.list_groups, call) == _answer(_general_groups, call), parameters


def test_the_idps_lookups_take_the_one_query_path(engine: Engine) -> None:
    stored = _provision(
        engine,
        [{"schemas": [USER_SCHEMA], "userName": "Ada@Example.com", "externalId": "E-1"}],
        [{"schemas": [GROUP_SCHEMA], "displayName": "Équipe", "members": [0]}],
    )
    scope = stored.scope
    asked = [
        ("User", {"filter": 'userName eq "ada@example.com"'}, 1),
        ("User", {"filter": 'userName eq "nobody@example.com"'}, 0),
        ("User", {"filter": 'externalId eq "E-1"', "startIndex": "1", "count": "100"}, 1),
        ("User", {"filter": 'externalId eq "e-1"'}, 0),
        ("Group", {"filter": 'displayName eq "ÉQUIPE"'}, 1),
        ("Group", {"filter": 'externalId eq "G-1"', "count": "1"}, 0),
        ("Group", {"filter": 'displayName eq "équipe"', "excludedAttributes": "members"}, 1),
    ]
    for resource_type, parameters, total in asked:
        kind = listing.USER_KIND if resource_type == "User" else listing.GROUP_KIND
        found = key_lookup(parameters, resource_type, scope.models.of(kind.name), scope.limits)
        assert found is not None, parameters
        page = key_lookups.lookup_page(scope, kind, found)
        assert page is not None and page.total_results == total, parameters


def test_what_the_pattern_leaves_to_the_general_path() -> None:
    limits = Limits()
    for parameters in [
        {"filter": 'username eq "a"'},
        {"filter": 'userName EQ "a"'},
        {"filter": 'userName eq "a\\"b"'},
        {"filter": 'userName eq "a"', "sortBy": "userName"},
        {"filter": 'userName eq "a"', "startIndex": "2"},
        {"filter": 'userName eq "a"', "count": "0"},
        {"filter": 'userName eq "a"', "attributes": "userName"},
        {"filter": 'displayName eq "a"'},
        {"filter": 'userName eq "a" or userName eq "b"'},
    ]:
        assert key_lookup(parameters, "User", User, limits) is None, parameters


def test_every_case_and_form_of_the_stored_keys(engine: Engine) -> None:
    """Each stored key asked in each case and normal form, escaped or not: as the general path."""
    people = [
        {"schemas": [USER_SCHEMA], "userName": f"{name}{n}", "externalId": EXTERNAL_IDS[n % 6]}
        for n, name in enumerate(NAMES)
    ]
    teams = [
        {"schemas": [GROUP_SCHEMA], "displayName": name, "members": [n], "externalId": name}
        for n, name in enumerate(GROUP_NAMES)
    ]
    stored = _provision(engine, people, teams)
    for path, keys, handler, general in [
        ("/Users", stored.user_keys, scim_routes.list_users, _general_users),
        ("/Groups", stored.group_keys, scim_routes.list_groups, _general_groups),
    ]:
        for attribute, values in keys.items():
            for value in values:
                for asked in variants(value):
                    for ascii_only in (False, True):
                        quoted = json.dumps(asked, ensure_ascii=ascii_only)
                        call = _call(stored.scope, {"filter": f"{attribute} eq {quoted}"}, path)
                        assert _answer(handler, call) == _answer(general, call), (attribute, asked)


def test_a_lookup_by_the_idp_confirms_what_it_finds(engine: Engine) -> None:
    """Drift detection: a user the IdP looks up is one it still has."""
    stored = _provision(engine, [{"schemas": [USER_SCHEMA], "userName": "seen@example.com"}], [])
    scope = replace(stored.scope, limits=Limits(confirmation_interval=0))
    table = users_table.c

    def confirmed_at() -> datetime | None:
        with reading(engine) as conn:
            at: datetime | None = conn.execute(
                select(table.confirmed_at).where(table.directory_id == scope.directory_id)
            ).scalar_one()
            return at

    before = confirmed_at()
    parameters = {"filter": 'userName eq "SEEN@example.com"'}
    answer = scim_routes.list_users(_call(scope, parameters, "/Users"))
    assert json.loads(bytes(answer.body))["totalResults"] == 1
    after = confirmed_at()
    assert before is not None and after is not None and after > before
