"""A user PATCH of single values, read in one pass, stores what the models' way stores.

The reference is what the request path does with any user PATCH: ``decode_json``,
``read_patch``, the user's model built from its stored document, the models'
PATCH engine under the service's policy, ``settle_manager``, then the stored
document. For every body and stored user, the one-pass reader either declines
(None) or gives the same document (same keys, same order, same values), or the
same SCIM error (status, scimType, detail) once the document is settled.

Then the whole request, on each backend: ``PATCH /Users/{id}`` against the
handler it replaced (``read_patch``, then ``service.provisioning.users.patch_user``) on the
same stored user, with or without groups, ``If-Match`` and attribute mappings:
the same answer bytes, the same events, the same row and version.
"""

import json
import secrets
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scim2_models import Context, SCIMException
from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import Response

from event_support import last_seq, published
from property_support import mostly, property_settings
from scim_payloads import ENTERPRISE_SCHEMA, GROUP_SCHEMA, PATCH_SCHEMA, USER_SCHEMA, patch
from scimgate.api import scim_routes
from scimgate.api.requests import response_parameters
from scimgate.api.responses import error_response, resource_response
from scimgate.scim.etag import etag
from scimgate.scim.group_patch import ListedMember
from scimgate.scim.instants import rfc3339
from scimgate.scim.limits import Limits
from scimgate.scim.requests import decode_json, read_patch, read_resource
from scimgate.scim.resources import UserResource
from scimgate.scim.tolerance import apply_patch, settle_manager
from scimgate.scim.user_patches import patched_document, user_assignments
from scimgate.scim.values import settled_user
from scimgate.service.administration import attribute_mappings, tenants
from scimgate.service.provisioning import groups, users
from scimgate.service.provisioning.representation import document
from scimgate.service.provisioning.scope import Scope
from scimgate.simulator.dialects import DIALECTS
from scimgate.simulator.population import generate
from scimgate.store.resource_tables import USERS
from scimgate.store.stored_resources import StoredResource
from scimgate.store.transactions import reading, writing

USERS_URL = "https://scim.example.com/scim/v2/d1/Users"
USER_ID = "0190f2c4-6c1e-7d3a-9b1e-3f0c2a7d5e10"
BOSS = "0190f2c4-6c1e-7d3a-9b1e-3f0c2a7d5e11"
META = {
    "resourceType": "User",
    "created": "2026-01-02T03:04:05Z",
    "lastModified": "2026-01-02T03:04:05Z",
    "version": 'W/"1"',
    "location": f"{USERS_URL}/{USER_ID}",
}

Outcome = tuple[str, Any]


def _refused(exc: SCIMException) -> Outcome:
    return ("refused", (exc.status, exc.scim_type, exc.detail))


def _stored(doc: dict[str, Any]) -> Outcome:
    return ("stored", json.dumps(doc))  # JSON text: key order counts


def reference(doc: dict[str, Any], body: bytes) -> Outcome:
    """What the models' way stores for ``body`` applied to the stored ``doc``, or its error."""
    try:
        operations = read_patch(UserResource, decode_json(body), USERS_URL)
        user = UserResource.model_validate({**doc, "id": USER_ID, "meta": META})
        apply_patch(operations, user)
        settle_manager(user, USERS_URL)
        return _stored(document(user))
    except SCIMException as exc:
        return _refused(exc)


def one_pass(doc: dict[str, Any], body: bytes) -> Outcome | None:
    assignments = user_assignments(body, USERS_URL)
    if assignments is None:
        return None
    try:
        return _stored(settled_user(patched_document(doc, assignments, USERS_URL)))
    except SCIMException as exc:
        return _refused(exc)


def assert_agree(doc: dict[str, Any], body: bytes) -> None:
    fast = one_pass(doc, body)
    if fast is not None:
        assert fast == reference(doc, body), body


def _encoded(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")


def _stored_user(body: dict[str, Any]) -> dict[str, Any]:
    user = read_resource(UserResource, body, Context.RESOURCE_CREATION_REQUEST, "user", USERS_URL)
    return document(user)


ANN = _stored_user(
    {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "externalId": "ann-1",
        "userName": "ann@example.com",
        "name": {"givenName": "Ann", "familyName": "Lee"},
        "title": "Engineer",
        "active": True,
        "emails": [{"value": "ann@example.com", "type": "work", "primary": True}],
        ENTERPRISE_SCHEMA: {"department": "R&D", "manager": {"value": BOSS}},
    }
)
BARE = _stored_user({"schemas": [USER_SCHEMA], "userName": "bare"})
MANAGER = f"{ENTERPRISE_SCHEMA}:manager"

IDP_PATCHES = [
    patch({"op": "Add", "path": MANAGER, "value": BOSS}),
    patch({"op": "replace", "path": MANAGER, "value": {"value": "m-2"}}),
    patch({"op": "replace", "path": MANAGER, "value": {"value": "m-2", "displayName": "Boss"}}),
    patch(
        {"op": "replace", "path": MANAGER, "value": {"value": "m-2", "$ref": f"{USERS_URL}/m-2"}}
    ),
    patch({"op": "Replace", "path": "active", "value": "False"}),
    patch({"op": "Replace", "path": "active", "value": "True"}),
    patch({"op": "replace", "path": "active", "value": False}),
    patch({"op": "replace", "value": {"active": False}}),
    patch({"op": "replace", "value": {"title": "Lead", "name.givenName": "Anne"}}),
    patch(
        {"op": "Replace", "path": "title", "value": "Principal"},
        {"op": "Replace", "path": f"{ENTERPRISE_SCHEMA}:department", "value": "Moved"},
    ),
    patch({"op": "replace", "value": {f"{ENTERPRISE_SCHEMA}:employeeNumber": "7"}}),
    patch({"op": "Add", "path": "nickName", "value": "Babs"}),
    patch({"op": "Replace", "path": "userName", "value": "Ann@Example.com"}),
    patch({"op": "Replace", "path": "userName", "value": " "}),
    patch({"op": "add", "path": f"{USER_SCHEMA}:name.familyName", "value": "Lee-Smith"}),
    patch({"op": "ADD", "path": "NAME.GIVENNAME", "value": ""}),
    patch({"op": "replace", "path": None, "value": {"active": False}}),
]


@pytest.mark.parametrize("doc", [ANN, BARE], ids=["ann", "bare"])
@pytest.mark.parametrize("body", IDP_PATCHES)
def test_identity_providers_user_patches_take_the_fast_path(doc: dict[str, Any], body: Any) -> None:
    encoded = _encoded(body)
    assert user_assignments(encoded, USERS_URL) is not None
    assert_agree(doc, encoded)


class _Recording:
    """Stands in for the simulator's HTTP session: keeps what a dialect sends, answers as
    a deactivation would."""

    def __init__(self) -> None:
        self.base_url = USERS_URL.removesuffix("/Users")
        self.sent: list[tuple[str, str, Any]] = []

    def send(self, method: str, path: str, expected: Any, json: Any = None, **_: Any) -> Any:
        self.sent.append((method, path, json))
        return {"active": False}


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_the_simulators_user_patches_take_the_fast_path(dialect: str) -> None:
    """What each IdP dialect sends for a manager, a mover and a leaver is read in one pass."""
    person = generate(1, 1).people[0]
    person.scim_id = USER_ID
    session = _Recording()
    sending = DIALECTS[dialect]
    sending.set_manager(session, person, BOSS)  # type: ignore[arg-type]
    sending.change_title(session, person, "Principal")  # type: ignore[arg-type]
    sending.deactivate(session, person)  # type: ignore[arg-type]
    patches = [body for method, path, body in session.sent if method == "PATCH"]
    assert patches, dialect
    for body in patches:
        encoded = _encoded(body)
        assert user_assignments(encoded, USERS_URL) is not None, body
        assert_agree(ANN, encoded)


@pytest.mark.parametrize(
    "body",
    [
        patch({"op": "remove", "path": "title"}),
        patch({"op": "replace", "path": 'emails[type eq "work"].value', "value": "a@b.c"}),
        patch({"op": "replace", "path": "profileUrl", "value": "https://x.example"}),
        patch({"op": "replace", "path": "name", "value": {"givenName": "A"}}),
        patch({"op": "replace", "path": f"{MANAGER}.value", "value": BOSS}),
        patch({"op": "replace", "path": MANAGER, "value": ""}),
        patch({"op": "replace", "path": MANAGER, "value": "a b"}),
        patch({"op": "replace", "path": MANAGER, "value": {"value": BOSS, "$ref": "https://x/1"}}),
        patch({"op": "replace", "path": MANAGER, "value": {"managerId": BOSS}}),
        patch({"op": "replace", "path": "active", "value": "no"}),
        patch({"op": "replace", "path": "active", "value": None}),
        patch({"op": "replace", "path": "title", "value": 7}),
        patch({"op": "replace", "path": "department", "value": "Sales"}),
        patch({"op": "replace", "value": {"active": False, "ACTIVE": True}}),
        patch({"op": "replace", "value": {ENTERPRISE_SCHEMA: {"department": "Sales"}}}),
        patch({"op": "replace", "value": {}}),
        patch({"op": "replace", "path": "title", "value": "a\u0000b"}),
        patch({"op": "replace", "path": "nic\u212aName", "value": "Kelvin"}),
        patch({"op": "replace", "value": {"nic\u212aName": "Kelvin"}}),
        patch({"op": "replace", "path": "title", "value": "\ud800"}),
        patch(),
        {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "add", "path": "title"}]},
        {"schemas": [PATCH_SCHEMA], "operations": [{"op": "add", "path": "title", "value": "x"}]},
        {"Operations": [{"op": "add", "path": "title", "value": "x"}]},
    ],
)
def test_other_user_patches_take_the_models_way(body: Any) -> None:
    assert user_assignments(_encoded(body), USERS_URL) is None


_WORDS = st.sampled_from(
    [
        *("", " ", "\t", "a\nb", "Ann", "Lee", "Ünï", "e\u0301", "x" * 513),
        *("ann@example.com", "ANN@example.com", "Taken@Example.com"),
    ]
)
_IDS = mostly(
    st.sampled_from([BOSS, "m-2", "M:2@x.y_z"]),
    st.sampled_from(["", "a b", 'q"', "é", "x/y"]),
)
_SIMPLE = [
    "externalId",
    "userName",
    "displayName",
    "nickName",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "active",
    "name.formatted",
    "name.familyName",
    "name.givenName",
    "name.middleName",
    "name.honorificPrefix",
    "name.honorificSuffix",
]
_ENTERPRISE = ["employeeNumber", "costCenter", "organization", "division", "department", "manager"]
_ODD_PATHS = [
    "profileUrl",
    "name",
    "emails",
    'emails[type eq "work"].value',
    "manager",
    "department",
    f"{MANAGER}.value",
    ENTERPRISE_SCHEMA,
    "groups",
    "id",
    "nope",
    "",
    f"{USER_SCHEMA}:nope",
]


def _spelled(path: str) -> st.SearchStrategy[str]:
    kelvin = path.replace("k", "\u212a").replace("K", "\u212a")
    return st.sampled_from([path, path.lower(), path.upper(), path.swapcase(), kelvin])


_PATHS = mostly(
    st.one_of(
        st.sampled_from(_SIMPLE).flatmap(
            lambda name: mostly(st.just(name), st.just(f"{USER_SCHEMA}:{name}")).flatmap(_spelled)
        ),
        st.sampled_from(_ENTERPRISE).flatmap(lambda name: _spelled(f"{ENTERPRISE_SCHEMA}:{name}")),
    ),
    st.sampled_from(_ODD_PATHS),
)
_MANAGERS = st.one_of(
    _IDS,
    st.fixed_dictionaries(
        {"value": _IDS},
        optional={
            "displayName": mostly(_WORDS, st.none()),
            "$ref": st.sampled_from([f"{USERS_URL}/{BOSS}", f"{USERS_URL}/m-2", "https://x/y"]),
        },
    ),
)
_VALUES = st.one_of(
    _WORDS,
    st.booleans(),
    st.sampled_from(["True", "False", "true", "FALSE", "yes", "0", "1", "off"]),
    _MANAGERS,
    st.none(),
    st.integers(min_value=-1, max_value=2),
    st.lists(_WORDS, max_size=1),
)
_OPS = mostly(
    st.sampled_from(["add", "Add", "replace", "Replace", "REPLACE"]),
    st.sampled_from(["remove", "Remove", "x", ""]),
)


def _fitting(path: str) -> st.SearchStrategy[Any]:
    """A value of the type the attribute ``path`` names (mostly)."""
    name = path.rsplit(":", 1)[-1].lower()
    if name == "active":
        usual: st.SearchStrategy[Any] = st.one_of(
            st.booleans(), st.sampled_from(["True", "False", "true", "FALSE"])
        )
    elif name == "manager":
        usual = _MANAGERS
    else:
        usual = _WORDS
    return mostly(usual, _VALUES)


_FITTING = _PATHS.flatmap(lambda path: st.tuples(st.just(path), _fitting(path)))
_SETTING_OPS = st.sampled_from(["add", "Add", "replace", "Replace", "REPLACE"])
_CANONICAL_OPERATIONS = st.one_of(
    _FITTING.flatmap(
        lambda fitting: st.fixed_dictionaries(
            {"op": _SETTING_OPS, "path": st.just(fitting[0]), "value": st.just(fitting[1])}
        )
    ),
    st.fixed_dictionaries(
        {
            "op": _SETTING_OPS,
            "value": st.lists(_FITTING, min_size=1, max_size=3).map(dict),
        }
    ),
)
_OPERATIONS = st.one_of(
    _CANONICAL_OPERATIONS,
    _CANONICAL_OPERATIONS,
    _CANONICAL_OPERATIONS,
    st.fixed_dictionaries({"op": _OPS, "path": _PATHS, "value": _VALUES}),
    st.fixed_dictionaries(
        {"op": _OPS, "value": st.dictionaries(_PATHS, _VALUES, min_size=1, max_size=3)}
    ),
    st.fixed_dictionaries({"op": _OPS, "path": _PATHS}),
)
_CANONICAL_PATCHES = st.fixed_dictionaries(
    {
        "schemas": st.just([PATCH_SCHEMA]),
        "Operations": st.lists(_CANONICAL_OPERATIONS, min_size=1, max_size=3),
    }
)
"""Bodies in the shapes read in one pass, most of them: the values are still random."""

_PATCHES = st.fixed_dictionaries(
    {
        "schemas": mostly(st.just([PATCH_SCHEMA]), st.sampled_from([[PATCH_SCHEMA.upper()], []])),
        "Operations": mostly(st.lists(_OPERATIONS, min_size=1, max_size=3), st.just([])),
    }
)

_OPTIONAL_WORDS = st.one_of(st.none(), _WORDS.filter(lambda word: len(word) < 20))


def _without_none(value: dict[str, Any]) -> dict[str, Any]:
    return {key: item for key, item in value.items() if item is not None}


_USERS = st.fixed_dictionaries(
    {
        "schemas": st.sampled_from([[USER_SCHEMA], [USER_SCHEMA, ENTERPRISE_SCHEMA]]),
        "userName": st.sampled_from(["ann@example.com", "Bob", "çé@x.example"]),
        "externalId": st.one_of(st.none(), st.sampled_from(["ext-1", "EXT-2"])),
        "title": _OPTIONAL_WORDS,
        "active": st.one_of(st.none(), st.booleans()),
        "name": st.one_of(
            st.none(),
            st.fixed_dictionaries(
                {"givenName": _OPTIONAL_WORDS, "familyName": _OPTIONAL_WORDS}
            ).map(_without_none),
        ),
        "emails": st.one_of(
            st.none(), st.just([{"value": "ann@example.com", "type": "work", "primary": True}])
        ),
        ENTERPRISE_SCHEMA: st.one_of(
            st.none(),
            st.fixed_dictionaries(
                {
                    "department": _OPTIONAL_WORDS,
                    "division": _OPTIONAL_WORDS,
                    "manager": st.one_of(
                        st.none(),
                        st.fixed_dictionaries({"value": st.sampled_from([BOSS, "m-2", ""])}),
                    ),
                }
            ).map(_without_none),
        ),
    }
).map(_without_none)


def _stored_or_skip(body: dict[str, Any]) -> dict[str, Any]:
    try:
        return _stored_user(body)
    except SCIMException:
        assume(False)
        raise


@given(_USERS, _CANONICAL_PATCHES)
@property_settings(400)
def test_canonical_user_patches_agree(user: dict[str, Any], body: Any) -> None:
    assert_agree(_stored_or_skip(user), _encoded(body))


@given(_USERS, _PATCHES)
@property_settings(300)
def test_user_patches_agree(user: dict[str, Any], body: Any) -> None:
    assert_agree(_stored_or_skip(user), _encoded(body))


@given(_USERS, _PATCHES, st.data())
@property_settings(200)
def test_damaged_user_patches_agree(user: dict[str, Any], body: Any, data: st.DataObject) -> None:
    encoded = bytearray(_encoded(body))
    position = data.draw(st.integers(min_value=0, max_value=len(encoded) - 1))
    encoded[position] = data.draw(st.sampled_from([0, 0x22, 0x5C, 0x5D, 0x80, 0xFF, 0x20]))
    assert_agree(_stored_or_skip(user), bytes(encoded))


# The whole request, on each backend: the handler against the general path it replaces.

TAKEN = "taken@example.com"


@pytest.fixture(scope="module")
def scope(engine: Engine) -> Scope:
    organization = tenants.create_organization(engine, f"user patches {secrets.token_hex(3)}")
    directory = tenants.create_directory(engine, organization.id, "user patches").directory
    for name, path in MAPPINGS.items():
        attribute_mappings.set_mapping(engine, directory.id, name, path)
    scope = Scope(engine, directory, f"/scim/v2/{directory.id}", Limits())
    users.create_user_document(scope, {"schemas": [USER_SCHEMA], "userName": TAKEN})
    return scope


MAPPINGS = {
    "boss": MANAGER,
    "team": f"{ENTERPRISE_SCHEMA}:department",
    "nick": "nickName",
    "whole_name": "name",
    "on": "active",
}


def _general_patch(call: scim_routes.Call) -> Response:
    """What ``PATCH /Users/{id}`` answered before it read any body in one pass."""
    scope, request = call.scope, call.request
    operations = read_patch(scope.models.user, decode_json(call.body), scope.users_url)
    user = users.patch_user(scope, call.resource_id, operations, request.headers.get("if-match"))
    return resource_response(
        user, Context.RESOURCE_PATCH_RESPONSE, parameters=response_parameters(request)
    )


def _call(scope: Scope, user_id: str, body: bytes, if_match: str | None) -> scim_routes.Call:
    headers = [(b"if-match", if_match.encode())] if if_match is not None else []
    request = Request(
        {
            "type": "http",
            "method": "PATCH",
            "path": f"/Users/{user_id}",
            "query_string": b"",
            "headers": headers,
        }
    )
    return scim_routes.Call(request, scope, body, user_id)


def _outcome(
    handler: Callable[[scim_routes.Call], Response], call: scim_routes.Call, user_id: str
) -> tuple[Any, ...]:
    """The answer (status and bytes), the events recorded and the row the request left.

    The new modification time is the one thing two requests cannot share: it is
    written as ``<modified>`` wherever it appears.
    """
    engine, directory_id = call.scope.engine, call.scope.directory_id
    mark = last_seq(engine)
    try:
        response = handler(call)
    except SCIMException as exc:
        response = error_response(exc)
    events = [
        (event.type, event.resource_id, event.data)
        for event in published(engine, directory_id, after=mark)
    ]
    with reading(engine) as conn:
        stored = USERS.existing(conn, directory_id, user_id, for_update=False)
    modified = rfc3339(stored.modified_at)
    return (
        response.status_code,
        bytes(response.body).decode().replace(modified, "<modified>"),
        json.dumps(events).replace(modified, "<modified>"),
        json.dumps(stored.doc),
        stored.version,
    )


def _restore(engine: Engine, directory_id: str, stored: StoredResource) -> None:
    with writing(engine) as conn:
        now = USERS.get(conn, directory_id, stored.id, for_update=True)
        assert now is not None
        USERS.replace(conn, directory_id, now.doc, stored)


@given(
    user=_USERS,
    body=st.one_of(_CANONICAL_PATCHES, _CANONICAL_PATCHES, _CANONICAL_PATCHES, _PATCHES),
    in_group=st.booleans(),
    if_match=st.sampled_from(["none", "current", "stale"]),
    missing=mostly(st.just(False), st.just(True)),
)
@property_settings(40)
def test_user_patch_requests_answer_as_the_general_path(
    scope: Scope,
    user: dict[str, Any],
    body: Any,
    in_group: bool,
    if_match: str,
    missing: bool,
) -> None:
    doc = _stored_or_skip({**user, "userName": f"{secrets.token_hex(4)}-{user['userName']}"})
    user_id = users.create_user_document(scope, doc).id
    if in_group:
        team = {"schemas": [GROUP_SCHEMA], "displayName": f"team {secrets.token_hex(4)}"}
        groups.create_group_document(scope, team, (ListedMember(user_id, None),))
    with reading(scope.engine) as conn:
        before = USERS.existing(conn, scope.directory_id, user_id, for_update=False)
    tag = {"none": None, "current": etag(before.version), "stale": etag(before.version + 1)}
    target = "no-such-user" if missing else user_id
    call = _call(scope, target, _encoded(body), tag[if_match])
    general = _outcome(_general_patch, call, user_id)
    _restore(scope.engine, scope.directory_id, before)
    assert _outcome(scim_routes.patch_user, call, user_id) == general, body
