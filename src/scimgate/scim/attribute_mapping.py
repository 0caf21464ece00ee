"""Named custom attributes read from SCIM paths: ``employee_id`` from ``…:employeeNumber``.

Each IdP profile comes with defaults; a directory's own mappings add to them
or replace them by name.
"""

import re
import typing
from collections.abc import Callable
from functools import lru_cache, partial
from typing import Any

from scim2_models import AttributeBinding, BaseModel, InvalidPathException, Path

from scimgate.records import frozen
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

    A mapping to a single-valued attribute, or one selecting a sub-attribute of
    a multi-valued one by equality (Entra's ``phoneNumbers[type eq "mobile"].value``),
    is read from ``raw`` when what it finds there is plain; any other mapping, or
    a value that is not plain, asks ``user()`` for the model, as
    :func:`custom_attributes` reads it.
    """
    found: dict[str, Any] = {}
    for name, path in mappings.items():
        reader = _reader(model, path)
        value = reader(raw) if reader is not None else _NOT_PLAIN
        if value is _NOT_PLAIN:
            value = _value(_compiled(model, path), user())
        found[name] = value
    return found


_NOT_PLAIN = object()
"""What a reader of the dump answers when only the model can say."""

_PLAIN_TYPES = (str, bool, int, float)
_NAME_PATTERN = r"[A-Za-z][A-Za-z0-9_$-]*"
_SIMPLE_PATH = re.compile(rf"^(?:(?P<urn>urn:.+):)?(?P<attribute>{_NAME_PATTERN})$")
_SELECTION = re.compile(
    rf"^(?:(?P<urn>urn:.+):)?(?P<attribute>{_NAME_PATTERN})"
    rf'\[(?P<key>{_NAME_PATTERN}) eq "(?P<literal>[^"\\]*)"\]\.(?P<sub>{_NAME_PATTERN})$',
    re.IGNORECASE,
)
"""``attribute[key eq "literal"].sub`` with single spaces and a literal without escapes;
other spellings of the same filter are left to the models."""

_Reader = Callable[[dict[str, Any]], Any]


@lru_cache(maxsize=1024)
def _reader(model: Any, path: str) -> _Reader | None:
    """How a mapping's value is read from a user's dump; None when only the model can read
    it (a path naming nothing of the model, or of another shape)."""
    if _compiled(model, path) is None:
        return None
    keys = _keys(model, path)
    if keys is not None:
        return partial(_dig, keys=keys)
    matched = _SELECTION.match(path)
    return None if matched is None else _selection(model, matched)


def _dig(raw: dict[str, Any], keys: tuple[str, ...]) -> Any:
    value: Any = raw
    for key in keys:
        if not isinstance(value, dict):
            return _NOT_PLAIN
        value = value.get(key)
        if value is None:
            return None
    return value if isinstance(value, _PLAIN_TYPES) else _NOT_PLAIN


def _keys(model: Any, path: str) -> tuple[str, ...] | None:
    """The keys of a mapping's value in a user's dump, for a path to one attribute of the
    core schema or of an extension; None for any other path (a filter, a sub-attribute)."""
    matched = _SIMPLE_PATH.match(path)
    if matched is None:
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


@frozen
class _Selection:
    """A sub-attribute of the entries of a core multi-valued attribute whose ``key`` equals a
    literal, compared as the models' filters compare (:meth:`AttributeBinding.comparable`).

    One entry found gives its value, several the list of their values, none None: what
    ``Path.get`` gives, flattened by :func:`_plain`.
    """

    attribute: str
    key: str
    sub: str
    compared: AttributeBinding
    wanted: Any

    def __call__(self, raw: dict[str, Any]) -> Any:
        entries = raw.get(self.attribute)
        if entries is None:
            return None
        if not isinstance(entries, list):
            return _NOT_PLAIN
        found = []
        for entry in entries:
            if not isinstance(entry, dict):
                return _NOT_PLAIN
            actual = entry.get(self.key)
            if actual is None:
                continue
            if not isinstance(actual, str):
                return _NOT_PLAIN
            try:
                if self.compared.comparable(actual) != self.wanted:
                    continue
            except ValueError:
                continue
            value = entry.get(self.sub)
            if value is not None and not isinstance(value, _PLAIN_TYPES):
                return _NOT_PLAIN
            found.append(value)
        if not found:
            return None
        return found[0] if len(found) == 1 else found


def _selection(model: Any, matched: re.Match[str]) -> _Selection | None:
    urn, attribute = matched["urn"], matched["attribute"]
    if urn is not None and urn.lower() != str(model.__schema__).lower():
        return None
    compared = Path[model](f"{attribute}.{matched['key']}").resolve()
    read = Path[model](f"{attribute}.{matched['sub']}").resolve()
    if compared is None or read is None or compared.model is not model:
        return None
    key, sub = compared.sub_field_name, read.sub_field_name
    if not compared.is_multivalued or key is None or sub is None:
        return None
    entry = compared.field_type
    try:
        wanted = compared.comparable(matched["literal"])
    except ValueError:
        return None
    return _Selection(
        attribute=_dump_key(model, compared.field_name),
        key=_dump_key(entry, key),
        sub=_dump_key(entry, sub),
        compared=compared,
        wanted=wanted,
    )


def _dump_key(model: Any, field_name: str) -> str:
    """The key a field of ``model`` is dumped under."""
    return str(model.model_fields[field_name].serialization_alias or field_name)


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
