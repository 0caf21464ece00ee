"""Named custom attributes read from SCIM paths: ``employee_id`` from ``…:employeeNumber``.

Each IdP profile comes with defaults; a directory's own mappings add to them
or replace them by name.
"""

import re
import typing
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from scim2_models import BaseModel, InvalidPathException, Path

from scimgate.scim.idp import IdpProfile
from scimgate.scim.resources import ENTERPRISE_SCHEMA

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

_COMMON = {
    "employee_id": f"{ENTERPRISE_SCHEMA}:employeeNumber",
    "cost_center": f"{ENTERPRISE_SCHEMA}:costCenter",
    "division": f"{ENTERPRISE_SCHEMA}:division",
    "organization": f"{ENTERPRISE_SCHEMA}:organization",
}
DEFAULTS: dict[IdpProfile, dict[str, str]] = {profile: dict(_COMMON) for profile in IdpProfile}
DEFAULTS[IdpProfile.okta] = {**_COMMON, "locale": "locale", "user_type": "userType"}
DEFAULTS[IdpProfile.entra] = {**_COMMON, "mobile_phone": 'phoneNumbers[type eq "mobile"].value'}


def checked_mapping(name: str, path: str, user_model: Any) -> str:
    """The path, once it is known to name an attribute of ``user_model``.

    Refuses bad names and paths; a path into a custom extension needs the
    extension registered first.
    """
    if not _NAME.match(name):
        raise InvalidPathException(
            detail=f"{name!r}: a custom attribute name is lower case letters, digits and _"
        )
    try:
        if Path[user_model](path).resolve() is None:
            raise ValueError(path)
    except ValueError:
        raise InvalidPathException(detail=f"{path!r} is not an attribute of a user") from None
    return path


def custom_attributes(user: Any, mappings: dict[str, str]) -> dict[str, Any]:
    """The value of each mapped attribute for a user (None when the user has none).

    A mapping whose path no longer resolves (its extension was removed) reads None.
    """
    model: Any = type(user)
    return {name: _value(_compiled(model, path), user) for name, path in mappings.items()}


@lru_cache(maxsize=1024)
def _compiled(model: Any, path: str) -> Path[Any] | None:
    """A mapping's path parsed for a model, once; None when it names nothing of the model."""
    parsed: Path[Any] = Path[model](path)
    return parsed if parsed.resolve() is not None else None


def custom_attributes_of_dump(
    raw: dict[str, Any], mappings: dict[str, str], model: Any, user: Callable[[], Any]
) -> dict[str, Any]:
    """What :func:`custom_attributes` gives, read from the user's dump (``raw``) where it can be.

    A mapping to a single-valued attribute holding a plain value (or none) is
    read from ``raw``; any other mapping, or a value that is not plain, asks
    ``user()`` for the model, as :func:`custom_attributes` reads it.
    """
    found: dict[str, Any] = {}
    for name, path in mappings.items():
        keys = _keys(model, path)
        value = _dig(raw, keys) if keys is not None else _NOT_PLAIN
        if value is _NOT_PLAIN:
            value = _value(_compiled(model, path), user())
        found[name] = value
    return found


_NOT_PLAIN = object()
_PLAIN_TYPES = (str, bool, int, float)
_SIMPLE_PATH = re.compile(r"^(?:(?P<urn>urn:.+):)?(?P<attribute>[A-Za-z][A-Za-z0-9_$-]*)$")


def _dig(raw: dict[str, Any], keys: tuple[str, ...]) -> Any:
    value: Any = raw
    for key in keys:
        if not isinstance(value, dict):
            return _NOT_PLAIN
        value = value.get(key)
        if value is None:
            return None
    return value if isinstance(value, _PLAIN_TYPES) else _NOT_PLAIN


@lru_cache(maxsize=1024)
def _keys(model: Any, path: str) -> tuple[str, ...] | None:
    """The keys of a mapping's value in a user's dump, for a path to one attribute of the
    core schema or of an extension; None for any other path (a filter, a sub-attribute)."""
    matched = _SIMPLE_PATH.match(path)
    if matched is None or _compiled(model, path) is None:
        return None
    urn, attribute = matched["urn"], matched["attribute"]
    if urn is None or urn.lower() == str(model.__schema__).lower():
        alias = _alias(model, attribute)
        return None if alias is None else (alias,)
    extension = _alias(model, urn)
    if extension is None:
        return None
    alias = _alias(_extension_model(model, extension), attribute)
    return None if alias is None else (extension, alias)


def _alias(model: Any, name: str) -> str | None:
    """The name a field of ``model`` is dumped under, found case-insensitively."""
    for field_name, info in model.model_fields.items():
        alias = info.serialization_alias or field_name
        if alias.lower() == name.lower():
            return str(alias)
    return None


def _extension_model(model: Any, alias: str) -> Any:
    for field_name, info in model.model_fields.items():
        if (info.serialization_alias or field_name) == alias:
            kinds = [kind for kind in typing.get_args(info.annotation) if kind is not type(None)]
            return kinds[0] if kinds else info.annotation
    raise LookupError(alias)


def _value(path: Path[Any] | None, user: Any) -> Any:
    return None if path is None else _plain(path.get(user))


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True, by_alias=True)
    if isinstance(value, list):
        plain = [_plain(item) for item in value]
        return plain[0] if len(plain) == 1 else plain
    return value
