"""User PATCH bodies in the shapes identity providers send by the thousand, read without the models.

After the initial sync, most of what an identity provider sends about a user is
a PATCH setting a few single-valued attributes: Microsoft Entra ID's
``{"op": "Add", "path": "urn:…:enterprise:2.0:User:manager", "value": "<id>"}``
and ``{"op": "Replace", "path": "active", "value": "False"}``, Okta's
``{"op": "replace", "value": {"active": false}}``, OneLogin's manager as
``{"value": id, "displayName": …}``, a mover's ``title`` and ``department``. Such a
body is decoded by msgspec into the operations below and applied to the stored
document directly; the general way (:func:`scimgate.scim.requests.read_patch`,
then the models' PATCH engine on the user's model, ``settle_manager`` and a
dump) is the reference, and property tests hold both ways to the same document
for the same body and stored user.

A body is read here when all of this holds, and otherwise answers None and takes
the general way, unchanged (its errors included):

- it is the object ``{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [...]}``, no other key, at least one operation, and no escaped NUL;
- each operation has ``op``, ``value`` and perhaps ``path`` (no other key), its
  ``op`` is ``add`` or ``replace`` in any case;
- a ``path`` names, in any case (of ASCII letters) and with or without its
  schema's URN, one of:
  a core string attribute (``externalId``, ``userName``, ``displayName``,
  ``nickName``, ``title``, ``userType``, ``preferredLanguage``, ``locale``,
  ``timezone``), ``name.<sub-attribute>``, ``active``, or, qualified with the
  enterprise URN, one of the enterprise extension's string attributes or
  ``manager``;
- a value without a path is an object whose keys are such names, each naming a
  different attribute, with no nested object;
- each value has its attribute's type: a string for a string attribute;
  ``true``/``false``, or the strings ``"true"``/``"false"`` in any case (Entra
  sends ``"False"``), for ``active``; for ``manager``, an id made of letters,
  digits and ``-._:@`` alone or as ``{"value": id}``, that object perhaps also
  holding the ``$ref`` the service would give it (``{users_url}/{id}``) and a
  string ``displayName`` (read-only, dropped).

Everything else takes the general way: ``remove``, filters in paths,
multi-valued attributes (``emails``), ``profileUrl`` (a URI the models check),
``name`` or the extension as a whole object, ``manager.value``, a null, a
number, an empty or unusual manager id, the strings the models also read as
booleans (``"yes"``, ``"0"``), an attribute name the schema does not declare,
and any directory with extension schemas of its own (the caller checks the
model). ``If-Match`` is checked the same way on both.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from inspect import isclass
from typing import Any

import msgspec
from pydantic import BaseModel

from scimgate.records import frozen
from scimgate.scim.patch_envelope import Envelope, operations_of
from scimgate.scim.resources import ENTERPRISE_SCHEMA, USER_SCHEMA, UserResource

_CORE_STRINGS = (
    "externalId",
    "userName",
    "displayName",
    "nickName",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
)
"""Core single-valued string attributes the models store as sent."""

_ENTERPRISE_STRINGS = ("employeeNumber", "costCenter", "organization", "division", "department")

_PLAIN_ID = re.compile(r"[A-Za-z0-9._:@-]+")
"""Manager ids whose reference is the users' location and the id, nothing to escape."""

_BOOLEANS = {"true": True, "false": False}


@frozen
class _Shape:
    """The order a model's dump writes its attributes in, and that of its complex ones."""

    order: tuple[str, ...]
    parts: dict[str, _Shape]


def _shape(model: type[BaseModel]) -> _Shape:
    """A model's shape; names are plain ``str`` (an extension's URN is a subclass orjson
    refuses as a key)."""
    order: list[str] = []
    parts: dict[str, _Shape] = {}
    for field_name, info in model.model_fields.items():
        name = str(info.serialization_alias or field_name)
        order.append(name)
        root = model.get_field_root_type(field_name)  # type: ignore[attr-defined]
        if isclass(root) and issubclass(root, BaseModel):
            parts[name] = _shape(root)
    return _Shape(tuple(order), parts)


_USER_SHAPE = _shape(UserResource)
_NAME_ORDER = _USER_SHAPE.parts["name"].order


@frozen
class Assignment:
    """One attribute set to a value: what an ``add`` or ``replace`` of a single value does."""

    slot: tuple[str, ...]
    """Where the value lands: ``("title",)``, ``("name", "givenName")``,
    ``(ENTERPRISE_SCHEMA, "manager")``."""

    value: str | bool
    """The value as stored; a manager's is its id alone (the reference follows from it)."""


def _slots() -> dict[str, tuple[str, ...]]:
    """Every path read here, lower-cased, with and without its schema's URN: its slot."""
    core: list[tuple[str, ...]] = [(name,) for name in (*_CORE_STRINGS, "active")]
    core += [("name", sub) for sub in _NAME_ORDER]
    slots: dict[str, tuple[str, ...]] = {}
    for slot in core:
        path = ".".join(slot)
        slots[path.lower()] = slot
        slots[f"{USER_SCHEMA}:{path}".lower()] = slot
    for name in (*_ENTERPRISE_STRINGS, "manager"):
        slots[f"{ENTERPRISE_SCHEMA}:{name}".lower()] = (ENTERPRISE_SCHEMA, name)
    return slots


_SLOTS = _slots()

_Value = str | bool | dict[str, str | bool]


class _Operation(msgspec.Struct, forbid_unknown_fields=True):
    op: str
    value: _Value
    path: str | None = None


_PATCH = msgspec.json.Decoder(Envelope[_Operation])


class _Unusual(Exception):
    """The body is not one this module reads: the general way decides."""


def user_assignments(body: bytes, users_url: str) -> tuple[Assignment, ...] | None:
    """What a user PATCH of single values only sets, in order; else None.

    ``users_url`` is where the directory's users live: a manager's ``$ref`` must
    be the one the service gives it. Applying the assignments
    (:func:`patched_document`) gives the document the general way would store.
    """
    operations = operations_of(_PATCH, body)
    if operations is None:
        return None
    try:
        return tuple(
            assignment
            for operation in operations
            for assignment in _assignments(operation, users_url)
        )
    except _Unusual:
        return None


def _assignments(operation: _Operation, users_url: str) -> list[Assignment]:
    if operation.op.lower() not in ("add", "replace"):
        raise _Unusual
    if operation.path is not None:
        return [_assignment(operation.path, operation.value, users_url)]
    if not isinstance(operation.value, dict) or not operation.value:
        raise _Unusual
    assignments = [_assignment(key, item, users_url) for key, item in operation.value.items()]
    if len({assignment.slot for assignment in assignments}) < len(assignments):
        raise _Unusual  # two keys naming one attribute: the general way refuses them
    return assignments


def _assignment(path: str, value: _Value, users_url: str) -> Assignment:
    # ASCII only: lower() folds a few other letters into ASCII ones (the Kelvin sign
    # into "k"), which the models' path grammar refuses.
    slot = _SLOTS.get(path.lower()) if path.isascii() else None
    if slot is None:
        raise _Unusual
    if slot == ("active",):
        return Assignment(slot, _boolean(value))
    if slot == (ENTERPRISE_SCHEMA, "manager"):
        return Assignment(slot, _manager_id(value, users_url))
    if not isinstance(value, str):
        raise _Unusual
    return Assignment(slot, value)


def _boolean(value: _Value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _BOOLEANS:
        return _BOOLEANS[value.lower()]
    raise _Unusual


def _manager_id(value: _Value, users_url: str) -> str:
    """The id of the manager a value names, in the forms identity providers send it."""
    if isinstance(value, dict):
        if not value.keys() <= {"value", "$ref", "displayName"}:
            raise _Unusual
        if not isinstance(value.get("displayName", ""), str):
            raise _Unusual
        manager_id = value.get("value")
        if not isinstance(manager_id, str):
            raise _Unusual
        if "$ref" in value and value["$ref"] != f"{users_url}/{manager_id}":
            raise _Unusual
        value = manager_id
    if not isinstance(value, str) or not _PLAIN_ID.fullmatch(value):
        raise _Unusual
    return value


def patched_document(
    doc: dict[str, Any], assignments: Sequence[Assignment], users_url: str
) -> dict[str, Any]:
    """The stored user document ``doc`` with the assignments applied, as the models dump it.

    Keys are in the models' order at every level (PostgreSQL's ``jsonb`` gives a
    stored document back in its own); the enterprise schema is listed once the
    extension holds something; a manager's ``$ref`` points at the manager its
    ``value`` names (as ``settle_manager`` makes it). Not settled yet
    (:func:`scimgate.scim.values.settled_user`).
    """
    patched = dict(doc)
    for assignment in assignments:
        head, *rest = assignment.slot
        if not rest:
            patched[head] = assignment.value
            continue
        (name,) = rest
        value = {"value": assignment.value} if name == "manager" else assignment.value
        patched[head] = {**(patched.get(head) or {}), name: value}
    enterprise = patched.get(ENTERPRISE_SCHEMA)
    if enterprise:
        patched[ENTERPRISE_SCHEMA] = _settled_manager(enterprise, users_url)
        schemas = patched.get("schemas") or [USER_SCHEMA]
        if ENTERPRISE_SCHEMA not in schemas:
            patched["schemas"] = [*schemas, ENTERPRISE_SCHEMA]
    ordered: dict[str, Any] = _in_order(patched, _USER_SHAPE)
    return ordered


def _settled_manager(enterprise: dict[str, Any], users_url: str) -> dict[str, Any]:
    """The extension with its manager's ``$ref`` naming the manager its ``value`` names, as
    :func:`scimgate.scim.tolerance.settle_manager` makes it on the model."""
    manager = enterprise.get("manager")
    if not isinstance(manager, dict):
        return enterprise
    manager_id = manager.get("value")
    reference = manager.get("$ref")
    if not manager_id or (isinstance(reference, str) and reference.endswith(f"/{manager_id}")):
        return enterprise
    return {**enterprise, "manager": {**manager, "$ref": f"{users_url}/{manager_id}"}}


def _in_order(value: Any, shape: _Shape) -> Any:
    """A value with the keys of its objects in the models' order, at every level.

    A key the model does not declare (a stored document holds none) stays, last. Only the
    values of complex attributes are walked: the rest are taken as they are.
    """
    if isinstance(value, list):
        return [_in_order(entry, shape) for entry in value]
    if not isinstance(value, dict):
        return value
    parts = shape.parts
    ordered = {
        key: value[key] if (part := parts.get(key)) is None else _in_order(value[key], part)
        for key in shape.order
        if key in value
    }
    if len(ordered) != len(value):
        ordered.update((key, item) for key, item in value.items() if key not in ordered)
    return ordered
