"""A creation body read in one pass stores what the models' way stores, or fails the same way.

The reference is the way every POST went before: ``decode_json``, then
``read_resource``, then the stored document of ``service.provisioning.representation``, then
the group's listed members. For every body, the canonical-body reader must
give the same document (same keys, same order, same values) and the same
members, or raise the same SCIM error (status, scimType, detail). Bodies come
from the IdP dialects of the simulator and the shapes the end-to-end tests
send, then from generators: canonical shapes with random values, the same
shapes mutated, and their bytes damaged.
"""

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scim2_models import Context, SCIMException

from property_support import mostly, property_settings
from scim_payloads import ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA, group, user
from scimgate.scim.canonical_bodies import canonical_group, canonical_user
from scimgate.scim.creation import read_creation
from scimgate.scim.extensions import (
    BUILT_IN_MODELS,
    definition,
    read_schema,
    resource_models,
    simple_schema,
)
from scimgate.scim.group_patch import listed_members
from scimgate.scim.requests import decode_json, read_resource
from scimgate.service.provisioning.representation import document
from scimgate.simulator.dialects import ADSCIM, DIALECTS
from scimgate.simulator.population import generate

USERS_URL = "https://scim.example.com/scim/v2/d1/Users"


def _reference(resource_type: str, body: bytes) -> tuple[dict[str, Any], tuple[Any, ...]]:
    """What the request path stored before: the models' way, step by step."""
    model = BUILT_IN_MODELS.of(resource_type)
    resource = read_resource(
        model,
        decode_json(body),
        Context.RESOURCE_CREATION_REQUEST,
        resource_type.lower(),
        USERS_URL,
    )
    doc = document(resource)
    members = listed_members(resource.members or []) if resource_type == "Group" else ()
    return doc, members


def _outcome(read: Callable[[], tuple[dict[str, Any], tuple[Any, ...]]]) -> tuple[Any, ...]:
    """A stored document as its JSON text (so key order counts), or the error raised."""
    try:
        doc, members = read()
    except SCIMException as exc:
        return ("refused", exc.status, exc.scim_type, exc.detail)
    return ("stored", json.dumps(doc, ensure_ascii=False), members)


def _creation(resource_type: str, body: bytes) -> tuple[dict[str, Any], tuple[Any, ...]]:
    created = read_creation(BUILT_IN_MODELS, resource_type, body, USERS_URL)
    return created.document, created.members


def _takes_fast_path(resource_type: str, body: bytes) -> bool:
    reader = canonical_user if resource_type == "User" else canonical_group
    return reader(body) is not None


def assert_agree(resource_type: str, body: bytes) -> None:
    expected = _outcome(lambda: _reference(resource_type, body))
    assert _outcome(lambda: _creation(resource_type, body)) == expected, body


def _encoded(body: Any, ascii_only: bool = False) -> bytes:
    return json.dumps(body, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


# The bodies identity providers send.


def _dialect_bodies() -> list[tuple[str, Any]]:
    population = generate(users=12, groups=3, seed=7)
    bodies: list[tuple[str, Any]] = []
    for dialect in DIALECTS.values():
        bodies += [
            ("User", dialect.user_body(person, "example.com")) for person in population.people
        ]
    for team in population.teams:
        bodies += [
            ("Group", {"schemas": [GROUP_SCHEMA], "displayName": team.display_name}),
            ("Group", {"schemas": [GROUP_SCHEMA], "displayName": team.display_name, "members": []}),
            (
                "Group",
                {
                    "schemas": [GROUP_SCHEMA, ADSCIM],
                    "externalId": team.key,
                    "displayName": team.display_name,
                    "meta": {"resourceType": "Group"},
                },
            ),
        ]
    return bodies


ENTRA_USER = {
    "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7b2d5b8b1a01",
    "userName": "test.user@contoso.com",
    "active": True,
    "emails": [{"primary": True, "type": "work", "value": "test.user@contoso.com"}],
    "meta": {"resourceType": "User"},
    "name": {"formatted": "Test User", "familyName": "User", "givenName": "Test"},
    "roles": [],
    "title": None,
    "addresses": None,
    ENTERPRISE_SCHEMA: {"employeeNumber": "42", "manager": None},
}

OKTA_USER = {
    "schemas": [USER_SCHEMA],
    "userName": "isabella@okta.example.com",
    "name": {"givenName": "Isabella", "familyName": "Rossi"},
    "emails": [{"primary": True, "value": "isabella@okta.example.com", "type": "work"}],
    "displayName": "Isabella Rossi",
    "locale": "en-US",
    "externalId": "00ujl29u0le5T6Aj10h7",
    "groups": [],
    "password": "1mz050nq",
    "active": True,
}

ODD_ADDRESSES = [
    "bob@",
    "a..b@x.com",
    "a@xn--bcher-kva.com",
    "Ann <ann@x.com>",
    '"q"@x.com',
    "a@b",
    "ann@Straße.de",
    "élise@exemple.fr",
    "a@x.com ",
    "a@x.com.",
    "a@-x.com",
    "x" * 65 + "@x.com",
    "",
    "  ",
]
"""E-mail values the models keep as sent, change, or refuse."""

SHAPES: list[tuple[str, Any]] = [
    *[("User", user("ann", emails=[{"value": address}])) for address in ODD_ADDRESSES],
    ("User", ENTRA_USER),
    ("User", OKTA_USER),
    # Entra's older example: explicit nulls, and a mistyped enterprise URN (refused).
    (
        "User",
        {
            **ENTRA_USER,
            "schemas": [USER_SCHEMA, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
            "phoneNumbers": None,
            ENTERPRISE_SCHEMA: {"manager": None},
        },
    ),
    # Entra and Microsoft's Postman collection: "active" as a string boolean.
    ("User", {**ENTRA_USER, "active": "True"}),
    # OneLogin: empty placeholders, and a manager with its read-only displayName.
    (
        "User",
        {
            **user("kai@onelogin.example.com", nickName=""),
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
            ENTERPRISE_SCHEMA: {"manager": {"value": "b0ss", "displayName": "The Boss"}},
        },
    ),
    # Entra's manager as a plain id.
    ("User", {**ENTRA_USER, ENTERPRISE_SCHEMA: {"manager": "b0ss"}}),
    ("User", user("alice@corp.local", emails=[{"value": "alice@corp.local", "type": "work"}])),
    ("User", user("bob", emails=[{"value": "bob@"}])),
    ("User", user("Ann@Example.COM", emails=[{"value": "Ann@Example.COM", "type": "WORK"}])),
    ("User", user("uma@example.com", groups=[{"value": "g1", "display": "Team"}])),
    ("User", user("dave", title="Engineer", displayName="Dave", active=False)),
    ("User", user("ann", name={"givenName": "Ann", "familyName": "Smith"})),
    ("User", user("ann", externalId="x1", password="s3cret")),
    ("User", user("ann", addresses=[{"type": "work", "locality": "Redmond", "primary": True}])),
    ("User", user("ann", phoneNumbers=[{"type": "Mobile", "value": "+1 555 0100"}])),
    ("User", user("ann", emails=[{"value": "a@x.io"}, {"value": "A@X.IO", "primary": True}])),
    ("User", user("ann", emails=[{"value": "a@x.io", "primary": True}] * 2)),
    ("User", user("ann", roles=[{"value": "admin"}], entitlements=[{"value": "e", "type": "T"}])),
    ("User", user("ann", photos=[{"value": "https://example.com/ann.png"}])),
    ("User", user("ann", id="client-chosen")),
    ("User", user("")),
    ("User", user("   ")),
    ("User", user("x" * 513)),
    ("User", user("ann", userName="ann")),
    ("User", {"schemas": [USER_SCHEMA], "UserName": "ann"}),
    ("User", {"schemas": [USER_SCHEMA], f"{USER_SCHEMA}:userName": "ann"}),
    ("User", {"schemas": [USER_SCHEMA], "userName": "ann", "name.givenName": "Ann"}),
    ("User", {"schemas": [USER_SCHEMA]}),
    ("User", {"userName": "ann"}),
    ("User", {"schemas": [GROUP_SCHEMA], "userName": "ann"}),
    ("User", {"schemas": [ENTERPRISE_SCHEMA, USER_SCHEMA], "userName": "ann"}),
    ("User", {"schemas": [USER_SCHEMA, "urn:example:custom"], "userName": "ann"}),
    ("User", {"schemas": [USER_SCHEMA], "userName": 42}),
    ("User", {"schemas": [USER_SCHEMA], "userName": "ann", "costCenter": "7"}),
    ("Group", group("Team")),
    ("Group", group("Team", ["u1", "u2", "u1"])),
    ("Group", {**group("Team"), "members": [{"value": "u1", "display": "Ann"}, {"value": "u2"}]}),
    ("Group", {**group("Team"), "members": [{"value": "u1", "$ref": None}]}),
    ("Group", {**group("Team"), "members": [{"value": "u1", "display": d} for d in "AB"]}),
    ("Group", {**group("Team"), "members": [{"value": ""}]}),
    ("Group", {**group("Team"), "members": [{"display": "nobody"}]}),
    ("Group", {**group("Team"), "members": {"value": "u1"}}),
    ("Group", {**group("Team"), "members": [{"value": "u1", "type": "User"}]}),
    ("Group", group("")),
    ("Group", group("T" * 513)),
    ("Group", {"schemas": [GROUP_SCHEMA]}),
    ("Group", {"schemas": [GROUP_SCHEMA, ADSCIM.lower()], "displayName": "Sales"}),
]

RAW_BODIES: list[tuple[str, bytes]] = [
    ("User", b""),
    ("User", b"[]"),
    ("User", b"null"),
    ("User", b'{"schemas": ["' + USER_SCHEMA.encode() + b'"], "userName": "ann"'),
    ("User", b'{"schemas": ["' + USER_SCHEMA.encode() + b'"], "userName": "a\\u0000"}'),
    ("User", b'{"schemas": ["' + USER_SCHEMA.encode() + b'"], "userName": "a\\ud800"}'),
    ("User", b'{"schemas": ["' + USER_SCHEMA.encode() + b'"], "userName": "\xed\xa0\x80"}'),
    ("User", b'{"schemas": ["' + USER_SCHEMA.encode() + b'"], "userName": "\xff"}'),
    ("User", b'{"schemas": ["' + USER_SCHEMA.encode() + b'"], "userName": "a", "x": NaN}'),
    ("User", b'{"schemas": ["' + USER_SCHEMA.encode() + b'"], "userName": "a", "groups": [1e400]}'),
    ("User", b'\xef\xbb\xbf{"schemas": ["' + USER_SCHEMA.encode() + b'"], "userName": "ann"}'),
    ("User", b'{"schemas": ["' + USER_SCHEMA.encode() + b'"], "userName": "a", "userName": "b"}'),
    ("User", b"[" * 5000 + b"]" * 5000),
    ("User", b'{"a":' * 3000 + b"1" + b"}" * 3000),
    ("Group", b'{"schemas": ["' + GROUP_SCHEMA.encode() + b'"], "displayName": "\\u0000"}'),
]


@pytest.mark.parametrize(("resource_type", "body"), [*_dialect_bodies(), *SHAPES])
def test_known_bodies_agree(resource_type: str, body: Any) -> None:
    for ascii_only in (False, True):
        assert_agree(resource_type, _encoded(body, ascii_only))


@pytest.mark.parametrize(("resource_type", "body"), RAW_BODIES)
def test_bodies_that_are_not_plain_json_agree(resource_type: str, body: bytes) -> None:
    assert_agree(resource_type, body)


def test_identity_providers_bodies_take_the_fast_path() -> None:
    """Every create body of every simulated IdP dialect is read without the models."""
    bodies = [*_dialect_bodies(), ("User", ENTRA_USER), ("User", OKTA_USER)]
    slow = [body for kind, body in bodies if not _takes_fast_path(kind, _encoded(body))]
    assert slow == []


def test_unusual_bodies_take_the_models_way() -> None:
    assert not _takes_fast_path("User", _encoded({**ENTRA_USER, "active": "True"}))
    assert not _takes_fast_path("User", _encoded({**OKTA_USER, "UserName": "x"}))
    assert not _takes_fast_path("User", _encoded(user("ann", id="mine")))
    assert not _takes_fast_path("Group", _encoded(group("Team", [""])))


def test_directories_with_their_own_schemas_take_the_models_way() -> None:
    """A registered extension changes the model, so the models read every body."""
    urn = "urn:example:params:scim:schemas:extension:acme:2.0:User"
    registered = definition(read_schema(simple_schema(urn, ["badge"]), "User"))
    models = resource_models((("User", json.dumps(registered)),))
    body = {**OKTA_USER, "schemas": [USER_SCHEMA, urn], urn: {"badge": "b-7"}}
    created = read_creation(models, "User", _encoded(body), USERS_URL)
    assert created.document[urn] == {"badge": "b-7"}


# Generated bodies.

_WORDS = st.sampled_from(
    ["", " ", "Ann", "ann", "ÅNGSTRÖM", "Zoë", "李", "😀", "O'Brien", "a\tb", "True", "false"]
)
TEXT = st.one_of(_WORDS, st.text(max_size=12), st.text(min_size=500, max_size=530))
ODD = st.one_of(st.none(), st.integers(), st.floats(allow_nan=False), st.booleans(), st.just([]))
"""Values of the wrong type (or null) where text goes."""


VALUE = mostly(TEXT, ODD)
FLAG = mostly(st.one_of(st.booleans(), st.none()), st.sampled_from(["True", "false", 1, 0]))

ADDRESS = st.one_of(
    st.from_regex(r"[a-z][a-z0-9.+-]{0,8}@[a-z]{1,8}\.(com|io|local)", fullmatch=True),
    st.from_regex(r"[A-Za-z]{1,8}@[A-Za-z]{1,8}\.(COM|Io|org)", fullmatch=True),
    st.sampled_from(ODD_ADDRESSES),
    st.text(max_size=12),
)


def _entry(value: st.SearchStrategy[Any], types: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "value": value,
            "display": VALUE,
            "type": st.one_of(st.sampled_from(types), VALUE),
            "primary": FLAG,
        },
    )


def _entries(entry: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[Any]:
    """A list of entries, sometimes with one repeated (duplicates), sometimes null."""
    listed = st.lists(entry, max_size=3)
    repeated = listed.filter(bool).map(lambda entries: [*entries, entries[0]])
    return st.one_of(listed, repeated, st.none())


EMAILS = _entries(_entry(st.one_of(ADDRESS, VALUE), ["work", "Work", "HOME", "other", "x"]))
PHONES = _entries(_entry(VALUE, ["work", "mobile", "Mobile", "fax", "pager", "cell"]))
IMS = _entries(_entry(VALUE, ["aim", "Skype", "xmpp", "irc"]))
LABELS = _entries(_entry(VALUE, ["admin", "Admin", ""]))
ADDRESSES = _entries(
    st.fixed_dictionaries(
        {},
        optional={
            key: VALUE
            for key in (
                "formatted",
                "streetAddress",
                "locality",
                "region",
                "postalCode",
                "country",
            )
        }
        | {"type": st.sampled_from(["work", "Home", "other", "x"]), "primary": FLAG},
    )
)
NAME = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={
            key: VALUE
            for key in (
                "formatted",
                "familyName",
                "givenName",
                "middleName",
                "honorificPrefix",
                "honorificSuffix",
            )
        },
    ),
)
ENTERPRISE = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={
            key: VALUE
            for key in ("employeeNumber", "costCenter", "organization", "division", "department")
        }
        | {"manager": mostly(st.none(), st.sampled_from(["b0ss", {"value": "b0ss"}]))},
    ),
)
USER_SCHEMAS = mostly(
    st.sampled_from(
        [
            [USER_SCHEMA],
            [USER_SCHEMA, ENTERPRISE_SCHEMA],
            [ENTERPRISE_SCHEMA, USER_SCHEMA],
            [USER_SCHEMA, USER_SCHEMA],
        ]
    ),
    st.sampled_from([[ENTERPRISE_SCHEMA], [USER_SCHEMA.upper()], [], None, USER_SCHEMA]),
)

USERS = st.fixed_dictionaries(
    {"schemas": USER_SCHEMAS, "userName": st.one_of(ADDRESS, VALUE)},
    optional={
        "externalId": VALUE,
        "name": NAME,
        "displayName": VALUE,
        "nickName": VALUE,
        "title": VALUE,
        "userType": VALUE,
        "preferredLanguage": VALUE,
        "locale": VALUE,
        "timezone": VALUE,
        "active": FLAG,
        "password": VALUE,
        "emails": EMAILS,
        "phoneNumbers": PHONES,
        "ims": IMS,
        "addresses": ADDRESSES,
        "groups": mostly(st.sampled_from([[], None]), st.just([{"value": "g1"}])),
        "entitlements": LABELS,
        "roles": LABELS,
        "meta": st.one_of(st.just({"resourceType": "User"}), st.none(), st.just({})),
        ENTERPRISE_SCHEMA: ENTERPRISE,
    },
)

MEMBERS = st.one_of(
    st.none(),
    st.lists(
        st.fixed_dictionaries(
            {"value": st.one_of(st.sampled_from(["u1", "u2", "U1"]), VALUE)},
            optional={"display": VALUE, "$ref": st.none()},
        ),
        max_size=4,
    ),
)
GROUPS = st.fixed_dictionaries(
    {
        "schemas": mostly(
            st.sampled_from([[GROUP_SCHEMA], [GROUP_SCHEMA, ADSCIM], [ADSCIM, GROUP_SCHEMA]]),
            st.sampled_from([[USER_SCHEMA], [], [GROUP_SCHEMA.lower()]]),
        ),
        "displayName": VALUE,
    },
    optional={
        "externalId": VALUE,
        "members": MEMBERS,
        "meta": st.one_of(st.just({"resourceType": "Group"}), st.none()),
    },
)
BODIES = st.one_of(
    st.tuples(st.just("User"), USERS),
    st.tuples(st.just("User"), USERS),
    st.tuples(st.just("Group"), GROUPS),
)


@given(BODIES, st.booleans())
@property_settings(300)
def test_canonical_shapes_agree(kind_and_body: tuple[str, Any], ascii_only: bool) -> None:
    resource_type, body = kind_and_body
    assert_agree(resource_type, _encoded(body, ascii_only))


def _mutated(body: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    """The body with one of its keys respelled, qualified, replaced or nested, or a key added."""
    if not body:
        return body
    key = data.draw(st.sampled_from(list(body)))
    item = body[key]
    change = data.draw(
        st.sampled_from(["case", "urn", "extra", "type", "dotted", "drop", "snake", "inner"])
    )
    changed = dict(body)
    if change == "case":
        del changed[key]
        changed[data.draw(st.sampled_from([key.upper(), key.lower(), key.capitalize()]))] = item
    elif change == "urn":
        del changed[key]
        changed[f"{USER_SCHEMA}:{key}"] = item
    elif change == "extra":
        changed[data.draw(st.sampled_from(["id", "costCenter", "urn:example:x", "Schemas"]))] = 1
    elif change == "type":
        changed[key] = data.draw(st.one_of(ODD, st.just({"value": "x"}), st.just(["x"])))
    elif change == "dotted" and isinstance(item, dict) and item:
        inner = data.draw(st.sampled_from(list(item)))
        changed[f"{key}.{inner}"] = item[inner]
    elif change == "drop":
        del changed[key]
    elif change == "snake":
        del changed[key]
        changed["".join(f"_{c.lower()}" if c.isupper() else c for c in key)] = item
    elif change == "inner" and isinstance(item, list) and item and isinstance(item[0], dict):
        changed[key] = [{**item[0], data.draw(st.sampled_from(["Value", "ref", "$ref", "x"])): "1"}]
    return changed


@given(BODIES, st.data())
@property_settings(300)
def test_mutated_shapes_agree(kind_and_body: tuple[str, Any], data: st.DataObject) -> None:
    resource_type, body = kind_and_body
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        body = _mutated(body, data)
    assert_agree(resource_type, _encoded(body))


@given(BODIES, st.data())
@property_settings(300)
def test_damaged_bytes_agree(kind_and_body: tuple[str, Any], data: st.DataObject) -> None:
    resource_type, body = kind_and_body
    encoded = bytearray(_encoded(body))
    position = data.draw(st.integers(min_value=0, max_value=len(encoded) - 1))
    damage = data.draw(st.sampled_from(["replace", "delete", "insert"]))
    byte = data.draw(st.sampled_from([0, 0x7B, 0x22, 0x5C, 0x2C, 0x80, 0xED, 0xFF, 0x20, 0x0B]))
    if damage == "replace":
        encoded[position] = byte
    elif damage == "delete":
        del encoded[position]
    else:
        encoded.insert(position, byte)
    assert_agree(resource_type, bytes(encoded))


@given(st.from_regex(r"[A-Za-z0-9._+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+", fullmatch=True))
@property_settings(100)
def test_plain_addresses_agree(address: str) -> None:
    """Addresses of the shape the reader keeps without asking the validator."""
    assert_agree("User", _encoded(user("ann", emails=[{"value": address, "type": "work"}])))
