"""Filters at the edge of what a type can hold: the attributes, operators and values compared.

Every kind of filterable attribute (a column, a document value, a multi-valued
value, a value path, a membership, an extension attribute of each SCIM type),
every way an operator is translated, and values at the edge of the calendar, of
64-bit integers and of floats, or of the wrong type. The service tier
(``tests/service/test_filter_edge_sweep.py``) sweeps every combination; the HTTP tier
(``tests/test_filter_edges.py``) sends a sample of them and random ones.
"""

import itertools
from collections.abc import Iterator
from typing import Any

from scim_payloads import ENTERPRISE_SCHEMA, USER_SCHEMA, user

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

EDGE_USER: dict[str, Any] = {
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
}
"""A user holding a value of each kind the edge extension declares."""


def every_case() -> Iterator[tuple[str, str, bool]]:
    """Each resource type, filter and whether to search it with POST ``/.search`` too.

    Both ways of searching parse the same filter the same way: POST is searched for one
    operator of each kind of comparison, GET for every one.
    """
    for attribute, operator, value in itertools.product(USER_ATTRIBUTES, OPERATORS, EDGE_VALUES):
        yield "Users", f"{attribute} {operator} {value}", operator in ("eq", "co")
    for attribute, operator, value in itertools.product(GROUP_ATTRIBUTES, OPERATORS, EDGE_VALUES):
        yield "Groups", f"{attribute} {operator} {value}", operator in ("eq", "co")
    for attribute, operator, value in itertools.product(VALUE_PATHS, OPERATORS, EDGE_VALUES):
        head, sub = attribute.split(".", 1)
        yield "Users", f"{head}[{sub} {operator} {value}]", operator == "eq"
