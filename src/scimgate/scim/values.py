"""What a stored user or group must hold, whatever request wrote it.

A resource reaches storage by POST, PUT, PATCH (with or without a path) or a
Bulk operation; all of them end with the document to store, so the rules live
here, once, and are applied to that document:

- required strings (a user's ``userName``, a group's ``displayName``) are not
  empty or only white space (RFC 7643 §4.1.1, §4.2);
- strings the database indexes are no longer than their column, the same on
  every backend (PostgreSQL would refuse them, SQLite would not);
- a multi-valued attribute holds each value once (RFC 7643 §2.4: a server
  SHOULD NOT return duplicate values).
"""

from typing import Any

from scim2_models import InvalidValueException

from scimgate.records import frozen
from scimgate.scim.compare import fold

USER_NAME_MAX = 512
"""The longest ``userName``, in characters (also once lower-cased: the uniqueness key)."""

EXTERNAL_ID_MAX = 512
"""The longest ``externalId`` of a user or a group, in characters."""

GROUP_DISPLAY_NAME_MAX = 512
"""The longest group ``displayName``, in characters (also once lower-cased: the lookup key)."""


@frozen
class Bounded:
    """A top-level string attribute with a longest value (and perhaps required)."""

    name: str
    limit: int
    required: bool = False


USER_STRINGS = (
    Bounded("userName", USER_NAME_MAX, required=True),
    Bounded("externalId", EXTERNAL_ID_MAX),
)
GROUP_STRINGS = (
    Bounded("displayName", GROUP_DISPLAY_NAME_MAX, required=True),
    Bounded("externalId", EXTERNAL_ID_MAX),
)


@frozen
class MultiValued:
    """A multi-valued complex attribute of User and what makes two of its values the same."""

    name: str
    identity: tuple[str, ...] | None
    """The sub-attributes compared, or None for all of them but ``primary`` and ``display``."""

    case_exact: bool = False
    """Whether ``value`` is compared as it is (else case-insensitively, like any string)."""


USER_MULTI_VALUED = (
    MultiValued("emails", ("type", "value")),
    MultiValued("phoneNumbers", ("type", "value")),
    MultiValued("ims", ("type", "value")),
    MultiValued("photos", ("type", "value")),
    MultiValued("addresses", None),
    MultiValued("entitlements", ("type", "value")),
    MultiValued("roles", ("type", "value")),
    # Base64 is case-sensitive: two certificates differing in case are different bytes.
    MultiValued("x509Certificates", ("type", "value"), case_exact=True),
)
"""RFC 7643 §4.1.2: every multi-valued complex attribute of User a client writes."""

_NOT_IDENTITY = frozenset({"primary", "display"})


def settled_user(doc: dict[str, Any]) -> dict[str, Any]:
    """A user document fit to store: checked, and with duplicate values collapsed."""
    _check_strings(doc, USER_STRINGS, "user")
    settled = dict(doc)
    for attribute in USER_MULTI_VALUED:
        values = doc.get(attribute.name)
        if isinstance(values, list):
            settled[attribute.name] = _collapsed(values, attribute)
    return settled


def settled_group(doc: dict[str, Any]) -> dict[str, Any]:
    """A group document fit to store (its members are rows, checked elsewhere)."""
    _check_strings(doc, GROUP_STRINGS, "group")
    return doc


def _check_strings(doc: dict[str, Any], attributes: tuple[Bounded, ...], what: str) -> None:
    for attribute in attributes:
        value = doc.get(attribute.name)
        if attribute.required and (not isinstance(value, str) or not value.strip()):
            raise InvalidValueException(
                detail=f"A {what}'s {attribute.name} is required and may not be empty "
                f"or only white space, got {value!r}"
            )
        if isinstance(value, str):
            length = max(len(value), len(fold(value)))
            if length > attribute.limit:
                raise InvalidValueException(
                    detail=f"A {what}'s {attribute.name} is {length} characters long; "
                    f"at most {attribute.limit} are accepted"
                )


def _collapsed(values: list[Any], attribute: MultiValued) -> list[Any]:
    """The values, each once, in their first position; ``primary`` kept if any copy had it."""
    kept: dict[Any, dict[str, Any]] = {}
    collapsed: list[Any] = []
    for value in values:
        if not isinstance(value, dict):
            collapsed.append(value)
            continue
        key = _identity(value, attribute)
        first = kept.get(key)
        if first is None:
            kept[key] = dict(value)
            collapsed.append(kept[key])
        elif value.get("primary") is True:
            first["primary"] = True
    return collapsed


def _identity(value: dict[str, Any], attribute: MultiValued) -> Any:
    names = attribute.identity or tuple(sorted(name for name in value if name not in _NOT_IDENTITY))
    return tuple((name, _compared(name, value.get(name), attribute)) for name in names)


def _compared(name: str, item: Any, attribute: MultiValued) -> Any:
    if not isinstance(item, str):
        return item
    if name == "value" and attribute.case_exact:
        return item
    return fold(item)
