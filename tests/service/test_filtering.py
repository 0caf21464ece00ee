"""Filters evaluated in SQL select exactly what the RFC grammar's in-memory evaluator selects.

The reference is ``ScimFilter.match`` of scim2-models, run on each resource as
the service returns it; the database side is ``filter_clause``, run by SQLite
and PostgreSQL. Another directory holds look-alikes of everything, so a filter
that leaked across directories would be caught too.
"""

from typing import Any

import pytest
from scim2_models import Group, ScimFilter, SearchRequest
from sqlalchemy import Engine, Table, select

from factories import new_scope
from scimgate.scim.resources import ENTERPRISE_SCHEMA, USER_SCHEMA, UserResource
from scimgate.service.provisioning import groups, listing, users
from scimgate.service.provisioning.scope import Scope
from scimgate.store.query.filters import filter_clause
from scimgate.store.tables.resources import groups as groups_table
from scimgate.store.tables.resources import users as users_table

PEOPLE: list[dict[str, Any]] = [
    {
        "userName": "alice@acme.com",
        "name": {"givenName": "Alice", "familyName": "Ärger"},
        "emails": [
            {"value": "alice@acme.com", "type": "work", "primary": True},
            {"value": "alice@home.example.com", "type": "home"},
        ],
        "title": "Engineer",
        "active": True,
        "externalId": "E-1",
        ENTERPRISE_SCHEMA: {
            "employeeNumber": "7",
            "department": "R&D",
            "manager": {"value": "m-1"},
        },
    },
    {
        "userName": "BOB@acme.com",
        "name": {"givenName": "Bob", "familyName": "arger"},
        "emails": [{"value": "bob@ACME.com", "type": "work"}],
        "active": False,
        "externalId": "e-1",
        ENTERPRISE_SCHEMA: {"employeeNumber": "8", "costCenter": "CC 100%"},
    },
    {
        "userName": "carol_1@other.example.com",
        "displayName": "Carol",
        "phoneNumbers": [{"value": "+1 555 0100", "type": "mobile"}],
        "title": "",
        "addresses": [{"locality": "Zürich", "country": "CH", "type": "work"}],
    },
    {
        "userName": "dave%x@acme.com",
        "nickName": "D",
        "active": True,
        "userType": "Contractor",
        "emails": [{"value": "dave@other.example.com", "type": "other"}],
    },
    {
        "userName": "Érik@acme.com",
        "locale": "fr-CH",
        "title": "engineer",
        ENTERPRISE_SCHEMA: {"employeeNumber": "10", "manager": {"value": "m-2"}},
    },
    {"userName": "frank@acme.com"},
]

FILTERS = [
    'userName eq "ALICE@acme.com"',
    'userName ne "alice@acme.com"',
    'userName co "acme"',
    'userName sw "b"',
    'userName ew ".COM"',
    'userName co "%"',
    'userName co "_"',
    'userName co "r_1"',
    'userName gt "c"',
    'userName ge "dave%x@acme.com"',
    'userName lt "d"',
    'userName le "bob@acme.com"',
    'userName eq "érik@acme.com"',
    "userName pr",
    'externalId eq "E-1"',
    'externalId eq "e-1"',
    'externalId co "-"',
    "externalId pr",
    "id pr",
    'title eq "engineer"',
    "title pr",
    "not (title pr)",
    'title ne "Engineer"',
    'displayName eq "carol"',
    "nickName pr",
    'userType eq "contractor"',
    'locale sw "fr"',
    "active eq true",
    "active eq false",
    "active ne true",
    "not (active eq true)",
    "active pr",
    'name.familyName eq "ärger"',
    'name.familyName eq "arger"',
    'name.givenName sw "a"',
    "name pr",
    "not (name pr)",
    'name.familyName gt "a"',
    'emails co "acme"',
    'emails.value ew "example.com"',
    'emails.type eq "work"',
    'emails.type ne "work"',
    "emails pr",
    "not (emails pr)",
    "emails.primary eq true",
    'emails[type eq "work" and value co "@acme.com"]',
    'emails[type eq "home" or primary eq true]',
    'emails[not (type eq "work")]',
    "emails[value pr]",
    'phoneNumbers[type eq "mobile"]',
    'addresses[locality eq "zürich"]',
    'addresses.country eq "CH"',
    f'{ENTERPRISE_SCHEMA}:employeeNumber eq "7"',
    f'{ENTERPRISE_SCHEMA}:employeeNumber gt "7"',
    f'{ENTERPRISE_SCHEMA}:costCenter co "100%"',
    f"{ENTERPRISE_SCHEMA}:department pr",
    f'{ENTERPRISE_SCHEMA}:manager.value eq "m-2"',
    f"{ENTERPRISE_SCHEMA}:manager pr",
    'meta.resourceType eq "User"',
    'meta.resourceType eq "Group"',
    "meta.created pr",
    'meta.created gt "2000-01-01T00:00:00Z"',
    'meta.lastModified lt "2000-01-01T00:00:00Z"',
    "groups pr",
    "not (groups pr)",
    'userName sw "a" or userName sw "b" and active eq false',
    '(userName sw "a" or userName sw "b") and active eq false',
    'not (userName sw "a" or active eq true)',
    "not (not (title pr))",
    'title pr and not (emails[type eq "home"])',
]

GROUP_FILTERS = [
    'displayName eq "engineering"',
    'displayName co "ing"',
    'displayName sw "E"',
    'displayName ne "Engineering"',
    "members pr",
    "not (members pr)",
    'members.type eq "Group"',
    "externalId pr",
    'meta.resourceType eq "Group"',
]


def _matching(engine: Engine, table: Table, directory_id: str, scim_filter: Any) -> set[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(table.c.id).where(
                table.c.directory_id == directory_id, filter_clause(table, scim_filter)
            )
        )
        return set(rows.scalars())


def _scope(engine: Engine, name: str) -> Scope:
    return new_scope(engine, name, "http://x.example.com")


@pytest.fixture(scope="module")
def corpus(engine: Engine) -> tuple[Scope, list[Any], list[Group]]:
    scope = _scope(engine, "filtering")
    decoy = _scope(engine, "filtering decoy")
    created: list[Any] = []
    for target in (decoy, scope):
        made = []
        for person in PEOPLE:
            schemas = [USER_SCHEMA] + ([ENTERPRISE_SCHEMA] if ENTERPRISE_SCHEMA in person else [])
            made.append(
                users.create_user(
                    target, UserResource.model_validate({"schemas": schemas, **person})
                )
            )
        engineering = groups.create_group(
            target,
            Group(
                display_name="Engineering",
                external_id="g-1",
                members=[{"value": made[0].id}, {"value": made[4].id}],
            ),  # type: ignore[list-item]
        )
        groups.create_group(
            target, Group(display_name="Everyone", members=[{"value": engineering.id}])
        )  # type: ignore[list-item]
        groups.create_group(target, Group(display_name="Empty"))
        created = made
    everyone = [users.get_user(scope, user.id).resource() for user in created]
    all_groups = [
        groups.get_group(scope, group_id, with_members=True).resource()
        for group_id in _matching(
            engine, groups_table, scope.directory_id, ScimFilter[Group]("id pr")
        )
    ]
    return scope, everyone, all_groups


@pytest.mark.parametrize("expression", FILTERS)
def test_user_filter_matches_the_reference(
    engine: Engine, corpus: tuple[Scope, list[Any], list[Group]], expression: str
) -> None:
    scope, everyone, _ = corpus
    scim_filter = ScimFilter[UserResource](expression)
    expected = {user.id for user in everyone if scim_filter.match(user)}
    assert _matching(engine, users_table, scope.directory_id, scim_filter) == expected


@pytest.mark.parametrize("expression", GROUP_FILTERS)
def test_group_filter_matches_the_reference(
    engine: Engine, corpus: tuple[Scope, list[Any], list[Group]], expression: str
) -> None:
    scope, _, all_groups = corpus
    scim_filter = ScimFilter[Group](expression)
    expected = {group.id for group in all_groups if scim_filter.match(group)}
    assert _matching(engine, groups_table, scope.directory_id, scim_filter) == expected


def test_membership_filters(engine: Engine, corpus: tuple[Scope, list[Any], list[Group]]) -> None:
    scope, everyone, all_groups = corpus
    engineering = next(g for g in all_groups if g.display_name == "Engineering")
    alice = everyone[0]
    by_group = ScimFilter[UserResource](f'groups.value eq "{engineering.id}"')
    assert _matching(engine, users_table, scope.directory_id, by_group) == {
        everyone[0].id,
        everyone[4].id,
    }
    by_member = ScimFilter[Group](f'members.value eq "{alice.id}"')
    assert _matching(engine, groups_table, scope.directory_id, by_member) == {engineering.id}
    by_display = ScimFilter[UserResource]('groups.display eq "ENGINEERING"')
    assert _matching(engine, users_table, scope.directory_id, by_display) == {
        everyone[0].id,
        everyone[4].id,
    }


@pytest.mark.parametrize(
    "sort_by", ["userName", "name.familyName", "emails", "title", "meta.created", "externalId"]
)
@pytest.mark.parametrize("order", ["ascending", "descending"])
def test_sort_matches_the_reference(
    corpus: tuple[Scope, list[Any], list[Group]], sort_by: str, order: str
) -> None:
    scope, everyone, _ = corpus
    search = SearchRequest[UserResource].model_validate({"sortBy": sort_by, "sortOrder": order})
    listed = listing.list_resources(scope, listing.USER_KIND, search)
    expected = search.sort(everyone)
    if order == "descending":
        expected = _descending(search, everyone)
    keys = [search.sort_value(user) for user in listed.models()]
    assert keys == [search.sort_value(user) for user in expected]


def _descending(search: SearchRequest[Any], everyone: list[Any]) -> list[Any]:
    """The reference order, descending: missing values first, then values high to low."""
    missing = [user for user in everyone if search.sort_value(user) is None]
    present = [user for user in everyone if search.sort_value(user) is not None]
    return missing + sorted(present, key=search.sort_value, reverse=True)
