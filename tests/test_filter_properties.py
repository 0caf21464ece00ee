"""Random filters select, on both backends, what RFC 7644 §3.4.2.2 says they select.

Each example provisions a small random directory through the service layer
(users with mixed-case and non-ASCII names, e-mails, the enterprise extension,
groups with members), then draws filters from the RFC grammar with values taken
from the directory's own data, and checks that the ids ``list_resources``
returns are those the independent reference of ``scim_reference`` selects from
the same resources as a read returns them. A sorted, paged listing is checked
against the reference's order the same way.

CI runs a bounded, reproducible set of examples. For a longer run from fresh
random seeds, with failures shrunk to a minimal example, set how many::

    SCIMGATE_PROPERTY_EXAMPLES=500 pytest tests/test_filter_properties.py -p no:randomly
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scim2_models import Context, SCIMException
from sqlalchemy import Engine

import scim_reference as ref
from factories import new_scope
from property_support import property_settings
from scim_payloads import ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA
from scim_reference import Attr, Compare, Logical, Node, Not, Present, Spelling, ValuePath
from scimgate.scim.requests import read_resource, read_search
from scimgate.service.provisioning import groups, listing, users
from scimgate.service.provisioning.scope import Scope

FILTERS_PER_DIRECTORY = 25

NAMES = [
    "Élodie",
    "ß",
    "alice",
    "ALICE",
    "Zoë",
    "o'Brien",
    'say "hi"',
    "back\\slash",
    "d0",
    "ŁUKASZ",
]
DOMAINS = ["acme.com", "ACME.com", "example.org", "bücher.example"]
GIVEN = ["Ada", "ada", "Émile", "straße", "Bo", "Zoë"]
FAMILY = ["Lovelace", "lovelace", "Müller", "O'Hara", "Ng"]
TITLES = ["Engineer", "engineer", "Head of R&D", "", 'The "Boss"']
EXTERNAL_IDS = ["E-1", "e-1", "00u1AbC", 'x"y', "back\\slash"]
DEPARTMENTS = ["R&D", "r&d", "Sales", "Ventes — Île"]
GROUP_NAMES = ["Engineering", "engineering team", "Équipe", "All\\Staff", 'The "A" team']


@st.composite
def person(draw: st.DrawFn, number: int) -> dict[str, Any]:
    """A user body; the number keeps userNames unique regardless of case."""
    body: dict[str, Any] = {
        "schemas": [USER_SCHEMA],
        "userName": f"{draw(st.sampled_from(NAMES))}{number}@{draw(st.sampled_from(DOMAINS))}",
    }
    if draw(st.booleans()):
        name = {"givenName": draw(st.sampled_from(GIVEN))}
        if draw(st.booleans()):
            name["familyName"] = draw(st.sampled_from(FAMILY))
        body["name"] = name
    for key, pool in (("displayName", GIVEN + NAMES), ("title", TITLES)):
        if draw(st.booleans()):
            body[key] = draw(st.sampled_from(pool))
    active = draw(st.sampled_from([True, False, None]))
    if active is not None:
        body["active"] = active
    if draw(st.booleans()):
        body["externalId"] = draw(st.sampled_from(EXTERNAL_IDS))
    emails = []
    primary_at = draw(st.integers(-1, 2))
    for index in range(draw(st.integers(0, 3))):
        email: dict[str, Any] = {
            "value": f"{draw(st.sampled_from(['a', 'B', 'é', 'x.y']))}{index}"
            f"@{draw(st.sampled_from(DOMAINS))}",
            "type": draw(st.sampled_from(["work", "home", "Work"])),
        }
        if index == primary_at:
            email["primary"] = True
        elif draw(st.booleans()):
            email["primary"] = False
        emails.append(email)
    if emails:
        body["emails"] = emails
    if draw(st.booleans()):
        extension = {}
        if draw(st.booleans()):
            extension["department"] = draw(st.sampled_from(DEPARTMENTS))
        if draw(st.booleans()):
            extension["employeeNumber"] = str(draw(st.integers(0, 120)))
        if extension:
            body["schemas"] = [USER_SCHEMA, ENTERPRISE_SCHEMA]
            body[ENTERPRISE_SCHEMA] = extension
    return body


@st.composite
def population(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[tuple[str, list[int]]]]:
    """Users, and groups as (displayName, indexes of the users among their members)."""
    count = draw(st.integers(1, 7))
    people = [draw(person(number)) for number in range(count)]
    teams = [
        (
            draw(st.sampled_from(GROUP_NAMES)),
            sorted(draw(st.sets(st.integers(0, count - 1), max_size=count))),
        )
        for _ in range(draw(st.integers(0, 3)))
    ]
    return people, teams


@dataclass
class Directory:
    """A directory as provisioned, and its resources as reads return them."""

    scope: Scope
    users: list[dict[str, Any]]
    groups: list[dict[str, Any]]


def _provision(
    engine: Engine, people: list[dict[str, Any]], teams: list[tuple[str, list[int]]]
) -> Directory:
    scope = new_scope(engine, "props")
    ids = []
    for body in people:
        model = read_resource(
            scope.models.user, body, Context.RESOURCE_CREATION_REQUEST, "user", scope.users_url
        )
        ids.append(users.create_user(scope, model).id)
    group_ids = []
    for index, (name, members) in enumerate(teams):
        body = {
            "schemas": [GROUP_SCHEMA],
            "displayName": name,
            "members": [{"value": ids[i]} for i in members]
            + ([{"value": group_ids[-1]}] if group_ids and index % 2 else []),
        }
        if index % 2 == 0:
            body["externalId"] = f"G-{index}"
        model = read_resource(
            scope.models.group, body, Context.RESOURCE_CREATION_REQUEST, "group", scope.users_url
        )
        group_ids.append(groups.create_group(scope, model).id)
    return Directory(
        scope,
        [users.get_user(scope, user_id).content for user_id in ids],
        [groups.get_group(scope, group_id, with_members=True).content for group_id in group_ids],
    )


# --- Drawing filters -------------------------------------------------------------------------

USER_STRINGS = [
    Attr("userName"),
    Attr("name", "givenName"),
    Attr("name", "familyName"),
    Attr("displayName"),
    Attr("title"),
    Attr("emails", "value"),
    Attr("emails", "type"),
    Attr("externalId"),
    Attr("id"),
    Attr("department", None, ref.ENTERPRISE),
    Attr("employeeNumber", None, ref.ENTERPRISE),
    Attr("groups", "value"),
    Attr("groups", "display"),
]
USER_PRESENT = [
    *USER_STRINGS,
    Attr("name"),
    Attr("emails"),
    Attr("active"),
    Attr("groups"),
    Attr("emails", "primary"),
]
GROUP_STRINGS = [
    Attr("displayName"),
    Attr("externalId"),
    Attr("id"),
    Attr("members", "value"),
    Attr("members", "display"),
    Attr("members", "type"),
]
GROUP_PRESENT = [*GROUP_STRINGS, Attr("members")]
STRING_OPS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]
ORDER_OPS = ["eq", "ne", "gt", "ge", "lt", "le"]
EMAIL_SUBS = [Attr("value"), Attr("type")]
MEMBER_SUBS = [Attr("value"), Attr("display"), Attr("type")]


def _strings_in(docs: list[dict[str, Any]], attr: Attr) -> list[str]:
    found = [value for doc in docs for value in ref.values_at(doc, attr)]
    return [value for value in found if isinstance(value, str)]


@st.composite
def string_value(draw: st.DrawFn, docs: list[dict[str, Any]], attr: Attr) -> str:
    """A value for a comparison: one the directory holds, re-cased, cut, or made up."""
    seen = _strings_in(docs, attr)
    if not seen or draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from(["", "a", "é", "ß", "SS", '"', "\\", "@", "Z"]))
    value = draw(st.sampled_from(seen))
    change = draw(st.sampled_from(["as is", "upper", "lower", "swap", "head", "tail", "middle"]))
    if change == "upper":
        return value.upper()
    if change == "lower":
        return value.lower()
    if change == "swap":
        return value.swapcase()
    if len(value) < 2:
        return value
    cut = draw(st.integers(1, len(value) - 1))
    if change == "head":
        return value[:cut]
    if change == "tail":
        return value[cut:]
    return value[cut // 2 : cut + 1]


def _spell(draw: st.DrawFn, attr: Attr, core: str) -> Attr:
    """The attribute, maybe prefixed with its core schema's URN."""
    if attr.urn is None and draw(st.integers(0, 5)) == 0:
        return Attr(attr.name, attr.sub, core)
    return attr


@st.composite
def user_leaf(draw: st.DrawFn, docs: list[dict[str, Any]]) -> Node:
    kind = draw(st.sampled_from(["string"] * 6 + ["present", "bool", "time", "path"] * 1))
    if kind == "present":
        return Present(draw(st.sampled_from(USER_PRESENT)))
    if kind == "bool":
        attr = draw(st.sampled_from([Attr("active"), Attr("emails", "primary")]))
        return Compare(attr, draw(st.sampled_from(["eq", "ne"])), draw(st.booleans()))
    if kind == "time":
        return draw(time_leaf(docs))
    if kind == "path":
        inner = draw(tree(element_leaf(docs, "emails", EMAIL_SUBS), depth=1))
        return ValuePath(Attr("emails"), inner)
    attr = draw(st.sampled_from(USER_STRINGS))
    value = draw(string_value(docs, attr))
    return Compare(_spell(draw, attr, ref.CORE_USER), draw(st.sampled_from(STRING_OPS)), value)


@st.composite
def time_leaf(draw: st.DrawFn, docs: list[dict[str, Any]]) -> Node:
    attr = draw(st.sampled_from([Attr("meta", "created"), Attr("meta", "lastModified")]))
    stamps = [doc["meta"]["created"] for doc in docs] + ["2000-01-01T00:00:00Z"]
    return Compare(attr, draw(st.sampled_from(ORDER_OPS)), draw(st.sampled_from(stamps)))


@st.composite
def element_leaf(
    draw: st.DrawFn, docs: list[dict[str, Any]], parent: str, subs: list[Attr]
) -> Node:
    """A comparison inside a value path, over one sub-attribute of the values."""
    if parent == "emails" and draw(st.integers(0, 4)) == 0:
        return Compare(Attr("primary"), "eq", draw(st.booleans()))
    sub = draw(st.sampled_from(subs))
    if draw(st.integers(0, 5)) == 0:
        return Present(sub)
    value = draw(string_value(docs, Attr(parent, sub.name)))
    return Compare(sub, draw(st.sampled_from(STRING_OPS)), value)


@st.composite
def group_leaf(draw: st.DrawFn, docs: list[dict[str, Any]]) -> Node:
    kind = draw(st.sampled_from(["string"] * 5 + ["present", "time", "path"]))
    if kind == "present":
        return Present(draw(st.sampled_from(GROUP_PRESENT)))
    if kind == "time":
        return draw(time_leaf(docs))
    if kind == "path":
        inner = draw(tree(element_leaf(docs, "members", MEMBER_SUBS), depth=1))
        return ValuePath(Attr("members"), inner)
    attr = draw(st.sampled_from(GROUP_STRINGS))
    value = draw(string_value(docs, attr))
    return Compare(_spell(draw, attr, ref.CORE_GROUP), draw(st.sampled_from(STRING_OPS)), value)


def tree(leaf: st.SearchStrategy[Node], depth: int = 3) -> st.SearchStrategy[Node]:
    """Filters of leaves joined by ``and``, ``or`` and ``not``, at most ``depth`` deep."""
    if depth == 0:
        return leaf
    below = tree(leaf, depth - 1)
    return st.one_of(
        leaf,
        leaf,
        st.builds(Logical, st.sampled_from(["and", "or"]), below, below),
        st.builds(Not, below),
    )


spellings = st.builds(
    Spelling,
    recase=st.sampled_from([str, str.upper, str.lower, str.swapcase]),
    ascii_literals=st.booleans(),
    extra_parentheses=st.booleans(),
)


# --- Running a filter through scimgate ----------------------------------------------------


def _listed(scope: Scope, kind: listing.ResourceKind, parameters: dict[str, Any]) -> list[str]:
    model = scope.models.user if kind is listing.USER_KIND else scope.models.group
    search = read_search(model, parameters, scope.limits)
    page = listing.list_resources(scope, kind, search, by_idp=False)
    return [document.id for document in page.resources]


def _check_filter(
    directory: Directory, kind: listing.ResourceKind, node: Node, spelling: Spelling
) -> None:
    docs = directory.users if kind is listing.USER_KIND else directory.groups
    text = ref.render(node, spelling)
    try:
        expected: set[str] | None = ref.select(docs, node)
    except ref.InvalidFilter:
        expected = None
    try:
        got = set(_listed(directory.scope, kind, {"filter": text, "count": 1000}))
    except SCIMException as exc:
        error = exc.to_error()
        assert (error.status, error.scim_type) == (400, "invalidFilter"), (text, error)
        assert expected is None, (
            f"{text!r} was refused ({error.detail}); the RFC selects {expected}"
        )
        return
    assert expected is not None, f"{text!r} should be refused with 400 invalidFilter, got {got}"
    differing = [doc for doc in docs if doc["id"] in got ^ expected]
    assert got == expected, f"{kind.name} filter {text!r}; the sides differ on {differing}"


PROPERTY_SETTINGS = property_settings(12)


@PROPERTY_SETTINGS
@given(world=population(), data=st.data())
def test_random_filters_select_what_the_rfc_selects(
    engine: Engine,
    world: tuple[list[dict[str, Any]], list[tuple[str, list[int]]]],
    data: st.DataObject,
) -> None:
    directory = _provision(engine, *world)
    for _ in range(FILTERS_PER_DIRECTORY):
        node = data.draw(tree(user_leaf(directory.users)), label="user filter")
        _check_filter(directory, listing.USER_KIND, node, data.draw(spellings, label="spelling"))
    if directory.groups:
        for _ in range(FILTERS_PER_DIRECTORY // 2):
            node = data.draw(tree(group_leaf(directory.groups)), label="group filter")
            _check_filter(
                directory, listing.GROUP_KIND, node, data.draw(spellings, label="spelling")
            )


SORTABLE = [
    Attr("userName"),
    Attr("name", "familyName"),
    Attr("displayName"),
    Attr("title"),
    Attr("emails", "value"),
    Attr("externalId"),
    Attr("meta", "created"),
    Attr("department", None, ref.ENTERPRISE),
]


@PROPERTY_SETTINGS
@given(world=population(), data=st.data())
def test_sorted_pages_of_a_filtered_listing_follow_the_rfc(
    engine: Engine,
    world: tuple[list[dict[str, Any]], list[tuple[str, list[int]]]],
    data: st.DataObject,
) -> None:
    directory = _provision(engine, *world)
    for _ in range(FILTERS_PER_DIRECTORY // 5):
        node = data.draw(tree(user_leaf(directory.users), depth=2), label="filter")
        try:
            selected = ref.select(directory.users, node)
        except ref.InvalidFilter:
            continue
        sort_by = data.draw(st.sampled_from(SORTABLE), label="sortBy")
        descending = data.draw(st.booleans(), label="descending")
        chosen = [doc for doc in directory.users if doc["id"] in selected]
        order = [doc["id"] for doc in ref.sort(chosen, sort_by, descending=descending)]
        start = data.draw(st.integers(1, len(directory.users) + 1), label="startIndex")
        count = data.draw(st.integers(0, len(directory.users)), label="count")
        parameters = {
            "filter": ref.render(node),
            "sortBy": ref.render_attr(sort_by),
            "sortOrder": "descending" if descending else "ascending",
            "startIndex": start,
            "count": count,
        }
        assert (
            _listed(directory.scope, listing.USER_KIND, parameters)
            == order[start - 1 : start - 1 + count]
        ), parameters


def test_a_non_address_compared_with_emails_value(engine: Engine) -> None:
    """E-mail values need not be addresses, so a filter compares them with any text."""
    people = [
        {
            "schemas": [USER_SCHEMA],
            "userName": "ann@acme.com",
            "emails": [{"value": "ann@acme.com"}],
        }
    ]
    directory = _provision(engine, people, [])
    for text, expected in (
        ('emails.value eq "ann"', []),
        ('emails.value ne "ann"', [directory.users[0]["id"]]),
        ('emails[value gt "a"]', [directory.users[0]["id"]]),
    ):
        assert _listed(directory.scope, listing.USER_KIND, {"filter": text}) == expected


@pytest.mark.parametrize("descending", [False, True])
def test_unsorted_pages_come_in_creation_order(engine: Engine, descending: bool) -> None:
    """Without sortBy, pages come in creation order; sortOrder alone changes nothing."""
    people = [
        {"schemas": [USER_SCHEMA], "userName": f"{name}{n}@acme.com"}
        for n, name in enumerate(NAMES)
    ]
    directory = _provision(engine, people, [])
    ids = [doc["id"] for doc in directory.users]
    parameters: dict[str, Any] = {"filter": 'userName co "@"', "startIndex": 3, "count": 4}
    if descending:
        parameters["sortOrder"] = "descending"
    assert _listed(directory.scope, listing.USER_KIND, parameters) == ids[2:6]
