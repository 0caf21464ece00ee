"""A user's PUT read in one pass stores what the models' way stores, or fails the same way.

The reference is the way every PUT went before: ``decode_json``, then ``read_resource``
in the replacement context, then ``Resource.replace`` against the stored user's model
(RFC 7644 §3.5.1: read-only values copied from it, immutable ones kept or compared,
write-only ones kept when left out), then the stored document. Where the one-pass
reader takes a body (:mod:`scimgate.scim.replacement`), it must give the same document
(same keys, same order, same values) or the same SCIM error, whatever the stored user
held: a manager, photos, certificates, e-mails with their ``display``. Bodies are
creation bodies (``test_creation_bodies``), and the same bodies echoing what a read
returns, as Okta sends them: ``id``, the whole ``meta``, ``groups``.
"""

import json
from functools import partial
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scim2_models import Context, SCIMException
from test_creation_bodies import (
    ENTRA_USER,
    ODD,
    OKTA_USER,
    SHAPES,
    USERS,
    USERS_URL,
    VALUE,
    _dialect_bodies,
    _encoded,
    _mutated,
)

from property_support import mostly, property_settings
from scim_payloads import ENTERPRISE_SCHEMA, USER_SCHEMA, user
from scimgate.scim.extensions import BUILT_IN_MODELS
from scimgate.scim.replacement import replacement_document
from scimgate.scim.requests import decode_json, read_resource
from scimgate.service.provisioning.representation import document

LOCATION = f"{USERS_URL}/u1"

READ_META = {
    "resourceType": "User",
    "created": "2026-12-05T18:59:10.677224Z",
    "lastModified": "2026-12-05T19:01:02Z",
    "version": 'W/"3"',
    "location": LOCATION,
}
"""``meta`` as a read returns it."""

READ_GROUPS = [
    {
        "value": "g1",
        "display": "Sales",
        "type": "direct",
        "$ref": "https://scim.example.com/scim/v2/d1/Groups/g1",
    }
]
"""``groups`` as a read returns them."""


def _stored(body: dict[str, Any]) -> dict[str, Any]:
    """The stored document of a user created from ``body`` the models' way."""
    model = BUILT_IN_MODELS.user
    created = read_resource(model, body, Context.RESOURCE_CREATION_REQUEST, "user", USERS_URL)
    return document(created)


STORED_USERS = [
    _stored(user("ann@example.com")),
    _stored(
        {
            **ENTRA_USER,
            ENTERPRISE_SCHEMA: {"department": "Sales", "manager": {"value": "b0ss"}},
        }
    ),
    _stored(
        user(
            "ann@example.com",
            emails=[{"value": "ann@example.com", "display": "Ann", "type": "work"}],
            photos=[{"value": "https://example.com/ann.png", "display": "Ann"}],
            x509Certificates=[{"value": "TUlJQg==", "display": "cert"}],
            password="s3cret",
        )
    ),
]
"""What a user may hold before the PUT: what §3.5.1 could keep from it."""


def _reference(stored: dict[str, Any], body: bytes) -> dict[str, Any]:
    """What the request path stored before: the models' way, step by step."""
    model = BUILT_IN_MODELS.user
    replacement = read_resource(
        model, decode_json(body), Context.RESOURCE_REPLACEMENT_REQUEST, "user", USERS_URL
    )
    current = model.model_validate({**stored, "id": "u1", "meta": READ_META, "groups": READ_GROUPS})
    replacement.replace(current)
    return document(replacement)


def _outcome(read: Any) -> tuple[Any, ...]:
    """A stored document as its JSON text (so key order counts), or the error raised."""
    try:
        doc = read()
    except SCIMException as exc:
        return ("refused", exc.status, exc.scim_type, exc.detail)
    return ("stored", json.dumps(doc, ensure_ascii=False))


def _one_pass(body: bytes) -> dict[str, Any] | None:
    return replacement_document(BUILT_IN_MODELS, body)


def assert_agree(body: bytes) -> None:
    """Where the one-pass reader takes the body, it stores what the models' way stores
    for every stored user (where it does not, the models' way answers the request)."""
    taken = _outcome(lambda: _one_pass(body))
    if taken == ("stored", "null"):
        return
    for stored in STORED_USERS:
        assert taken == _outcome(partial(_reference, stored, body)), (body, stored)


def _echoed(body: Any) -> Any:
    """The body as Okta sends it: with what a read of the user returned."""
    if not isinstance(body, dict):
        return body
    return {"id": "u1", **body, "meta": READ_META, "groups": READ_GROUPS}


OKTA_PUT = {
    **_echoed(OKTA_USER),
    "emails": [
        {
            "primary": True,
            "value": "isabella@okta.example.com",
            "type": "work",
            "display": "isabella@okta.example.com",
        }
    ],
    "title": "Principal",
}
"""Okta's profile update: the user it read, changed, with ``emails[].display``."""


@pytest.mark.parametrize(
    "body",
    [
        *[body for kind, body in _dialect_bodies() if kind == "User"],
        *[body for kind, body in SHAPES if kind == "User"],
    ],
)
def test_known_bodies_agree(body: Any) -> None:
    for sent in (body, _echoed(body)):
        for ascii_only in (False, True):
            assert_agree(_encoded(sent, ascii_only))


def test_identity_providers_replacements_take_the_one_pass_way() -> None:
    """Okta's profile updates, as it sends them, and every dialect's user sent back whole."""
    bodies = [OKTA_PUT, _echoed(ENTRA_USER)]
    bodies += [_echoed(body) for kind, body in _dialect_bodies() if kind == "User"]
    slow = [body for body in bodies if _one_pass(_encoded(body)) is None]
    assert slow == []
    assert_agree(_encoded(OKTA_PUT))


def test_unusual_echoes_take_the_models_way() -> None:
    for odd in (
        {**OKTA_PUT, "id": 7},
        {**OKTA_PUT, "meta": {**READ_META, "created": "yesterday"}},
        {**OKTA_PUT, "meta": {**READ_META, "lastModified": "2026-02-30T10:00:00Z"}},
        {**OKTA_PUT, "meta": {**READ_META, "created": "2026-W49-6"}},
        {**OKTA_PUT, "meta": {**READ_META, "extra": 1}},
        {**OKTA_PUT, "groups": [{"value": 5}]},
        {**OKTA_PUT, "groups": [{"value": "g1", "Display": "x"}]},
    ):
        assert _one_pass(_encoded(odd)) is None, odd


def test_a_directory_with_its_own_schemas_takes_the_models_way() -> None:
    from test_creation_bodies import definition, read_schema, resource_models, simple_schema

    urn = "urn:example:params:scim:schemas:extension:acme:2.0:User"
    registered = definition(read_schema(simple_schema(urn, ["badge"]), "User"))
    models = resource_models((("User", json.dumps(registered)),))
    assert replacement_document(models, _encoded(OKTA_PUT)) is None


# Generated bodies: creation bodies, echoing what a read returns, sometimes wrongly.

_TIMES = st.one_of(
    st.sampled_from(
        [
            "2026-12-05T18:59:10.677224Z",
            "2026-12-05T18:59:10Z",
            "2026-12-05T18:59:10+02:00",
            "2026-12-05T18:59:10.1-05:30",
            "2026-12-05 18:59:10Z",
            "2026-12-05",
            "2026-13-05T18:59:10Z",
            "2026-12-05T24:00:00Z",
            "2026-12-05T18:59:60Z",
            "2026-12-05T18:59:10.1234567Z",
            "2026-12-05T18:59:10z",
            "2026-W49-6",
            "20261205T185910Z",
        ]
    ),
    VALUE,
)
_META = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={
            "resourceType": mostly(st.just("User"), VALUE),
            "created": _TIMES,
            "lastModified": _TIMES,
            "version": mostly(st.just('W/"3"'), VALUE),
            "location": mostly(st.just(LOCATION), VALUE),
        },
    ),
)
_GROUP_ENTRY = st.fixed_dictionaries(
    {},
    optional={
        "value": mostly(st.just("g1"), VALUE),
        "display": VALUE,
        "type": st.one_of(st.sampled_from(["direct", "indirect", "Direct"]), VALUE),
        "$ref": st.one_of(
            st.sampled_from(["https://scim.example.com/scim/v2/d1/Groups/g1", "g1", ""]), VALUE
        ),
    },
)
ECHOES = st.fixed_dictionaries(
    {},
    optional={
        "id": mostly(st.sampled_from(["u1", "someone-else"]), ODD),
        "meta": _META,
        "groups": st.one_of(st.none(), st.lists(_GROUP_ENTRY, max_size=2)),
    },
)


@given(USERS, ECHOES, st.booleans())
@property_settings(300)
def test_replacement_shapes_agree(
    body: dict[str, Any], echo: dict[str, Any], ascii_only: bool
) -> None:
    assert_agree(_encoded({**body, **echo}, ascii_only))


@given(ECHOES)
@property_settings(300)
def test_echoes_beside_a_canonical_body_agree(echo: dict[str, Any]) -> None:
    """The echoed parts vary while the rest of the body is one the one-pass reader takes."""
    assert_agree(_encoded({**OKTA_PUT, **echo}))


@given(USERS, ECHOES, st.data())
@property_settings(200)
def test_mutated_replacements_agree(
    body: dict[str, Any], echo: dict[str, Any], data: st.DataObject
) -> None:
    sent = {**body, **echo}
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        sent = _mutated(sent, data)
    assume(sent)
    assert_agree(_encoded(sent))


def test_the_stored_users_hold_what_replace_could_keep() -> None:
    """The stored users do hold a manager, photos, certificates and a ``display``."""
    held = {key for stored in STORED_USERS for key in stored}
    assert {"photos", "x509Certificates", ENTERPRISE_SCHEMA, "emails"} <= held
    assert USER_SCHEMA in STORED_USERS[0]["schemas"]
