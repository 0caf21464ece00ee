"""Every filter at the edge of what a type can hold is answered or refused as invalidFilter.

The sweep of ``filter_edge_cases`` (every kind of attribute, operator and edge
value) runs through the same calls as a SCIM list or search request, on each
database: the query string or ``.search`` body read by ``scim.requests``, the key
lookup where the request is one, then the listing. Each must return a page or
raise a SCIM 400 ``invalidFilter``; anything else would reach the HTTP edge as a
5xx. ``tests/test_filter_edges.py`` checks over HTTP that a sample of these
answers so.
"""

import json
from typing import Any

import pytest
from scim2_models import SCIMException
from sqlalchemy import Engine

from factories import new_scope, scope_of
from filter_edge_cases import EDGE, EDGE_DEFINITION, EDGE_USER, every_case
from scim_payloads import SEARCH_SCHEMA, group
from scimgate.scim.creation import read_creation
from scimgate.scim.key_lookups import key_lookup
from scimgate.scim.requests import read_search
from scimgate.service.provisioning import extension_schemas, groups, key_lookups, listing, users
from scimgate.service.provisioning.scope import Scope


@pytest.fixture(scope="module")
def edge(engine: Engine) -> Scope:
    """A directory with the edge extension, a user holding a value of each kind, and a group."""
    made = new_scope(engine, "filter edges")
    extension_schemas.register(engine, made.directory_id, "User", EDGE_DEFINITION)
    scope = scope_of(engine, made.directory_id)
    person = read_creation(scope.models, "User", json.dumps(EDGE_USER).encode(), scope.users_url)
    created = users.create_user_document(scope, person.document)
    team = read_creation(
        scope.models, "Group", json.dumps(group("edge group", [created.id])).encode(),
        scope.users_url,
    )  # fmt: skip
    groups.create_group_document(scope, team.document, team.members)
    return scope


def _listed(scope: Scope, resource: str, parameters: dict[str, Any], *, query: bool) -> int:
    """How many resources a GET (``query``) or POST ``/.search`` of the resource type finds."""
    kind, model = (
        (listing.USER_KIND, scope.models.user)
        if resource == "Users"
        else (listing.GROUP_KIND, scope.models.group)
    )
    if query:
        lookup = key_lookup(parameters, kind.name, model, scope.limits)
        found = key_lookups.lookup_page(scope, kind, lookup) if lookup is not None else None
        if found is not None:
            return found.total_results
    search = read_search(model, parameters, scope.limits)
    return listing.list_resources(scope, kind, search).total_results


def _answered(scope: Scope, resource: str, scim_filter: str, *, query: bool) -> str:
    """``listed`` or the refusal's scimType; any other error fails the test."""
    parameters: dict[str, Any] = (
        {"filter": scim_filter, "count": "1"}
        if query
        else {"schemas": [SEARCH_SCHEMA], "filter": scim_filter, "count": 1}
    )
    try:
        _listed(scope, resource, parameters, query=query)
    except SCIMException as refused:
        assert refused.status == 400, (scim_filter, refused)
        return refused.scim_type
    return "listed"


def test_the_edge_user_is_found_by_its_extension_values(edge: Scope) -> None:
    for scim_filter in (f"{EDGE}:count eq 5", f"{EDGE}:site.floor le 3", 'userName eq "EDGE"'):
        for query in (True, False):
            parameters = (
                {"filter": scim_filter}
                if query
                else {"schemas": [SEARCH_SCHEMA], "filter": scim_filter}
            )
            assert _listed(edge, "Users", parameters, query=query) == 1, scim_filter


def test_every_kind_of_attribute_operator_and_edge_value(edge: Scope) -> None:
    answered: dict[str, int] = {}
    for resource, scim_filter, post in every_case():
        for query in (True, False) if post else (True,):
            outcome = _answered(edge, resource, scim_filter, query=query)
            assert outcome in ("listed", "invalidFilter"), (scim_filter, query, outcome)
            answered[outcome] = answered.get(outcome, 0) + 1
    # The sweep reaches both sides of the edge: filters the database runs, and refusals.
    assert answered["listed"] > 1_000 and answered["invalidFilter"] > 1_000, answered
