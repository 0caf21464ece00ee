"""Named custom attributes read from SCIM paths: ``employee_id`` from ``…:employeeNumber``.

Each IdP profile comes with defaults; a directory's own mappings add to them
or replace them by name.
"""

import re
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


def _value(path: Path[Any] | None, user: Any) -> Any:
    return None if path is None else _plain(path.get(user))


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True, by_alias=True)
    if isinstance(value, list):
        plain = [_plain(item) for item in value]
        return plain[0] if len(plain) == 1 else plain
    return value
