"""Stored documents served as they are give exactly the JSON the models would write.

Reads skip the models when nothing in the request needs them (see
``scimgate.scim.documents``). For a varied corpus of users and groups, stored
on each backend and read back through the service, the fast JSON and the
models' JSON must be the same document, for single resources, pages and the
exclusions the fast way honours; requests it cannot honour go through the models.
"""

import json
from typing import Any

import pytest
from scim2_models import Context, ResponseParameters, SearchRequest
from sqlalchemy import Engine

from factories import new_scope
from scim_payloads import ENTERPRISE_SCHEMA, USER_SCHEMA
from scimgate.scim.documents import ListDocument, ScimDocument, Written
from scimgate.scim.requests import read_resource
from scimgate.service.provisioning import groups, listing, users
from scimgate.service.provisioning.scope import Scope

USERS = [
    {"schemas": [USER_SCHEMA], "userName": "minimal@example.com"},
    {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "externalId": "00u1abcd",
        "userName": "Ada.Lovelace@Example.com",
        "name": {
            "formatted": "Ada King, Countess of Lovelace",
            "familyName": "Lovelace",
            "givenName": "Ada",
            "honorificPrefix": "Countess",
        },
        "displayName": "Ada Lovelace",
        "nickName": "Ada",
        "profileUrl": "https://example.com/ada",
        "title": "Analyst",
        "userType": "Employee",
        "preferredLanguage": "en-GB",
        "locale": "en-GB",
        "timezone": "Europe/London",
        "active": True,
        "password": "never-returned",
        "emails": [
            {"value": "ada@example.com", "type": "work", "primary": True},
            {"value": "ada@home.example", "type": "home"},
        ],
        "phoneNumbers": [{"value": "+44 20 7946 0000", "type": "work"}],
        "addresses": [
            {
                "type": "work",
                "streetAddress": "12 St James's Square",
                "locality": "London",
                "postalCode": "SW1Y 4LB",
                "country": "GB",
                "primary": True,
            }
        ],
        "roles": [{"value": "analyst", "primary": True}],
        "entitlements": [{"value": "engine"}],
        ENTERPRISE_SCHEMA: {
            "employeeNumber": "1815",
            "costCenter": "R&D",
            "organization": "Analytical Engines",
            "department": "Mathematics",
            "manager": {"value": "babbage", "$ref": "https://example.com/Users/babbage"},
        },
    },
    {
        "schemas": [USER_SCHEMA],
        "userName": "zoë.müller@beispiel.de",
        "name": {"givenName": "Zoë", "familyName": "Müller"},
        "displayName": "Zoë Müller \u2014 \u6771\u4eac",
        "active": False,
        "emails": [{"value": "zoe@beispiel.de", "primary": True}],
    },
]


@pytest.fixture
def scope(engine: Engine) -> Scope:
    return new_scope(engine, "documents", "http://testserver")


def _models_json(document: ScimDocument, context: Context, parameters: Any = None) -> Any:
    resource = document.resource()
    return json.loads(resource.model_dump_json(scim_ctx=context, response_parameters=parameters))


def _read(written: Written) -> Any:
    """An answer's JSON; the value it says it was written from, when it says so, reads the same."""
    parsed = json.loads(written.text)
    assert written.value is None or written.value == parsed
    return parsed


def _create_user(scope: Scope, body: dict[str, Any]) -> ScimDocument:
    model = read_resource(
        scope.models.user, body, Context.RESOURCE_CREATION_REQUEST, "user", scope.users_url
    )
    return users.create_user(scope, model)


def _create_group(scope: Scope, name: str, member_ids: list[str]) -> ScimDocument:
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": name,
        "externalId": f"ext-{name}",
        "members": [{"value": member} for member in member_ids],
    }
    model = read_resource(
        scope.models.group, body, Context.RESOURCE_CREATION_REQUEST, "group", scope.users_url
    )
    return groups.create_group(scope, model)


def _search(scope: Scope, **query: Any) -> SearchRequest[Any]:
    return SearchRequest[scope.models.user].model_validate(query)  # type: ignore[name-defined]


def test_resources_read_as_stored_equal_the_models_output(scope: Scope) -> None:
    created = [_create_user(scope, body) for body in USERS]
    ids = [each.id for each in created]
    team = _create_group(scope, "Analysts", ids[:2])
    _create_group(scope, "Everyone", [*ids, team.id])
    _create_group(scope, "Empty", [])
    for user_id in ids:
        read = users.get_user(scope, user_id)
        assert read.as_stored
        fast = _read(read.written(Context.RESOURCE_QUERY_RESPONSE, None))
        assert fast == _models_json(read, Context.RESOURCE_QUERY_RESPONSE)
        assert "password" not in json.dumps(fast)
    rich = _read(users.get_user(scope, ids[1]).written(Context.RESOURCE_QUERY_RESPONSE, None))
    assert {group["display"] for group in rich["groups"]} == {"Analysts", "Everyone"}
    assert rich["meta"]["created"].endswith("Z")


def test_groups_with_and_without_members_equal_the_models_output(scope: Scope) -> None:
    member_ids = [
        _create_user(scope, {**USERS[0], "userName": f"m{n}@x.example"}).id for n in range(3)
    ]
    inner = _create_group(scope, "Inner", member_ids[:1])
    outer = _create_group(scope, "Outer", [*member_ids, inner.id])
    for with_members in (True, False):
        read = groups.get_group(scope, outer.id, with_members=with_members)
        fast = _read(read.written(Context.RESOURCE_QUERY_RESPONSE, None))
        assert fast == _models_json(read, Context.RESOURCE_QUERY_RESPONSE)
        assert ("members" in fast) is with_members
    full = groups.get_group(scope, outer.id, with_members=True)
    for spelling in ("members", "MEMBERS", "urn:ietf:params:scim:schemas:core:2.0:Group:members"):
        parameters = ResponseParameters.model_validate({"excludedAttributes": spelling})
        fast = _read(full.written(Context.RESOURCE_QUERY_RESPONSE, parameters))
        assert "members" not in fast
        assert fast == _models_json(full, Context.RESOURCE_QUERY_RESPONSE, parameters)


def test_pages_equal_the_models_output(scope: Scope) -> None:
    ids = [
        _create_user(scope, {**body, "userName": f"p{n}-{body['userName']}"}).id
        for n, body in enumerate(USERS * 4)
    ]
    _create_group(scope, "Some", ids[:5])
    for query in ({"count": 5}, {"startIndex": 6, "count": 5}, {"count": 0}, {"count": 100}):
        page = listing.list_resources(scope, listing.USER_KIND, _search(scope, **query))
        fast = _read(page.written(Context.SEARCH_RESPONSE, None))
        models = page.list_model(
            total_results=page.total_results,
            start_index=page.start_index,
            items_per_page=len(page.resources),
            resources=page.models(),
            next_cursor=page.next_cursor,
        )
        assert fast == json.loads(models.model_dump_json(scim_ctx=Context.SEARCH_RESPONSE))
        assert fast["totalResults"] == len(ids)


def test_what_only_the_models_know_goes_through_them(scope: Scope) -> None:
    user = _create_user(scope, USERS[1])
    only = ResponseParameters.model_validate({"attributes": "userName"})
    answered = _read(user.written(Context.RESOURCE_QUERY_RESPONSE, only))
    assert set(answered) == {"schemas", "id", "userName"}
    assert user.written(Context.RESOURCE_QUERY_RESPONSE, only).value is None
    without_emails = ResponseParameters.model_validate({"excludedAttributes": "emails"})
    answered = _read(user.written(Context.RESOURCE_QUERY_RESPONSE, without_emails))
    assert "emails" not in answered and answered["userName"] == USERS[1]["userName"]
    page = listing.list_resources(scope, listing.USER_KIND, _search(scope, count=10))
    answered = _read(page.written(Context.SEARCH_RESPONSE, only))
    assert isinstance(page, ListDocument)
    assert [set(each) for each in answered["Resources"]] == [{"schemas", "id", "userName"}]
