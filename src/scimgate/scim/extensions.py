"""Extension schemas a directory registers, and the resource models that include them.

An administrator registers, per directory, the schemas its IdP sends beyond
the core and enterprise ones: Entra's
``urn:ietf:params:scim:schemas:extension:<name>:2.0:User``, an Okta custom
URN. A registered schema is an RFC 7643 §7 schema definition; scim2-models
turns it into an extension model, so its attributes are validated, PATCHed
and filtered exactly like the enterprise extension's.
"""

from __future__ import annotations

import json
import operator
import re
from functools import lru_cache, reduce
from typing import Any

from pydantic import ValidationError
from scim2_models import (
    EnterpriseUser,
    Extension,
    Group,
    InvalidValueException,
    ListResponse,
    Schema,
)

from scimgate.records import frozen
from scimgate.scim.errors import from_validation_error
from scimgate.scim.resources import (
    ENTERPRISE_SCHEMA,
    GROUP_SCHEMA,
    USER_SCHEMA,
    GroupResource,
    User,
    UserResource,
)

EXTENDABLE = ("User", "Group")
"""The resource types an extension schema can extend."""

_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
"""ATTRNAME of RFC 7643 §2.1."""

_RESERVED_PREFIXES = ("urn:ietf:params:scim:api:", "urn:ietf:params:scim:schemas:core:")
_BUILT_IN = frozenset(each.lower() for each in (USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE_SCHEMA))


def read_schema(payload: Any, resource_type: str) -> Schema:
    """A schema definition fit to register, or the SCIM error saying what is wrong with it."""
    if resource_type not in EXTENDABLE:
        raise InvalidValueException(
            detail=f"An extension schema extends User or Group, not {resource_type!r}"
        )
    if not isinstance(payload, dict):
        raise InvalidValueException(detail="A schema definition is a JSON object")
    schema_id = payload.get("id")
    if not isinstance(schema_id, str) or not schema_id.lower().startswith("urn:"):
        raise InvalidValueException(
            detail=f"A schema's 'id' is its URN (urn:...), got {schema_id!r}"
        )
    if schema_id.lower() in _BUILT_IN or schema_id.lower().startswith(_RESERVED_PREFIXES):
        raise InvalidValueException(detail=f"{schema_id} is built in; it cannot be registered")
    attributes = payload.get("attributes")
    if not isinstance(attributes, list) or not attributes:
        raise InvalidValueException(detail=f"{schema_id} must declare at least one attribute")
    _check_names(schema_id, attributes, nested=False)
    try:
        schema = Schema.model_validate({"name": _default_name(schema_id), **payload})
    except ValidationError as exc:
        raise from_validation_error(exc, f"schema {schema_id}") from None
    return schema.model_copy(update={"meta": None})


def simple_schema(schema_id: str, attributes: list[str]) -> dict[str, Any]:
    """A schema definition from ``name[:type][:multi]`` specs, as an administrator types them.

    ``costCenter`` is a single-valued string, ``clearance:integer`` an integer,
    ``badges:string:multi`` a list of strings.
    """
    declared = []
    for spec in attributes:
        name, _, rest = spec.partition(":")
        kind, _, multi = rest.partition(":")
        if multi not in ("", "multi"):
            raise InvalidValueException(
                detail=f"{spec!r}: write name, name:type or name:type:multi"
            )
        declared.append(
            {
                "name": name,
                "type": kind or "string",
                "multiValued": multi == "multi",
                "required": False,
                "caseExact": False,
                "mutability": "readWrite",
                "returned": "default",
                "uniqueness": "none",
            }
        )
    return {"id": schema_id, "attributes": declared}


def _check_names(where: str, attributes: list[Any], *, nested: bool) -> None:
    seen: set[str] = set()
    for attribute in attributes:
        name = attribute.get("name") if isinstance(attribute, dict) else None
        if not isinstance(name, str) or not _ATTRIBUTE_NAME.match(name):
            raise InvalidValueException(
                detail=f"{where}: attribute name {name!r} must start with a letter and hold "
                "only letters, digits, '-' and '_' (RFC 7643 §2.1)"
            )
        if name.lower() in seen:
            raise InvalidValueException(detail=f"{where}: attribute {name!r} is declared twice")
        seen.add(name.lower())
        sub_attributes = attribute.get("subAttributes")
        if str(attribute.get("type")) == "complex":
            if nested:
                raise InvalidValueException(
                    detail=f"{where}.{name}: a complex attribute cannot hold another "
                    "complex attribute (RFC 7643 §2.3.8)"
                )
            if not isinstance(sub_attributes, list) or not sub_attributes:
                raise InvalidValueException(
                    detail=f"{where}.{name}: a complex attribute lists its subAttributes"
                )
            _check_names(f"{where}.{name}", sub_attributes, nested=True)


def _default_name(schema_id: str) -> str:
    """A name for a schema sent without one: its URN's parts after the namespace."""
    parts = [part for part in schema_id.split(":")[-3:] if part]
    return " ".join(parts)


def definition(schema: Schema) -> dict[str, Any]:
    """The stored form of a schema definition."""
    dumped: dict[str, Any] = schema.model_dump(mode="json", exclude_none=True)
    dumped.pop("meta", None)
    return dumped


@frozen
class ResourceModels:
    """The models a directory's users and groups are read and written with."""

    user: Any
    group: Any
    user_extensions: tuple[Schema, ...] = ()
    group_extensions: tuple[Schema, ...] = ()

    def of(self, resource_type: str) -> Any:
        """The model of ``User`` or ``Group``."""
        return self.user if resource_type == "User" else self.group

    @property
    def served_as_stored(self) -> bool:
        """Whether stored documents are answered as they are (no schema of the directory's own)."""
        return not (self.user_extensions or self.group_extensions)

    def list_response(self, **fields: Any) -> Any:
        """A page of this directory's users and groups."""
        return _list_response(self.user, self.group)(**fields)


@lru_cache(maxsize=256)
def _list_response(user: Any, group: Any) -> Any:
    """``ListResponse`` of a directory's models, built once: a parametrized model is costly."""
    return ListResponse[user | group]


BUILT_IN_MODELS = ResourceModels(UserResource, GroupResource)


def resource_models(registered: tuple[tuple[str, str], ...]) -> ResourceModels:
    """The models for a directory's registered schemas: (resource type, definition JSON) pairs."""
    if not registered:
        return BUILT_IN_MODELS
    return _resource_models(registered)


@lru_cache(maxsize=256)
def _resource_models(registered: tuple[tuple[str, str], ...]) -> ResourceModels:
    user_extensions = [_extension(text) for kind, text in registered if kind == "User"]
    group_extensions = [_extension(text) for kind, text in registered if kind == "Group"]
    user: Any = User[reduce(operator.or_, [EnterpriseUser, *user_extensions])]  # type: ignore[misc]
    group: Any = (
        Group[reduce(operator.or_, group_extensions)]  # type: ignore[misc]
        if group_extensions
        else GroupResource
    )
    return ResourceModels(
        user,
        group,
        tuple(_schema(text) for kind, text in registered if kind == "User"),
        tuple(_schema(text) for kind, text in registered if kind == "Group"),
    )


@lru_cache(maxsize=512)
def _schema(text: str) -> Schema:
    return Schema.model_validate(json.loads(text))


@lru_cache(maxsize=512)
def _extension(text: str) -> type[Extension]:
    return Extension.from_schema(_schema(text))
