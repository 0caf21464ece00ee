"""Which PATCH operations may create the entry their path filter describes.

RFC 7644 §3.5.2.3 answers a ``replace`` whose filter matches no value with 400
``noTarget``, and Table 9 of §3.12 defines ``noTarget`` for any path whose
filter "yields no match", ``add`` included. Microsoft Entra relies on the
opposite for one shape: ``Add``/``Replace`` on
``addresses[type eq "work"].locality`` or ``phoneNumbers[type eq "mobile"].value``
when the user has no such entry, expecting the entry to be created. That
tolerance is kept for exactly that shape: a single ``type eq "<canonical type>"``
filter on a typed multi-valued attribute of User. Any other unmatched filter
(another operator, another sub-attribute, another attribute, a type no IdP is
documented to send) is refused with ``noTarget`` instead of inventing a value.
"""

from collections.abc import Iterator, Sequence
from typing import Any

from scim2_models.path import CompareOperator, Comparison

from scimgate.scim.resources import USER_SCHEMA

CANONICAL_TYPES: dict[str, frozenset[str]] = {
    "emails": frozenset({"work", "home", "other"}),
    "phonenumbers": frozenset({"work", "home", "mobile", "fax", "pager", "other"}),
    "ims": frozenset({"aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"}),
    "photos": frozenset({"photo", "thumbnail"}),
    "addresses": frozenset({"work", "home", "other"}),
}
"""RFC 7643 §4.1.2 canonical ``type`` values, keyed by lower-cased attribute name.

They cover every type Microsoft Entra and Okta are documented to send in such
a path (work e-mail; work, mobile and fax numbers; work and home addresses).
"""


NO_TARGET_HINT = (
    "A path filter that matches nothing creates an entry only in the form "
    'type eq "<type>" on emails, phoneNumbers, addresses, ims or photos, with a type of '
    "RFC 7643 (work, home, mobile, ...); otherwise the value must exist (RFC 7644 §3.5.2.3)"
)


def may_create_entry(operation: Any) -> bool:
    """Whether an unmatched filter in this operation's path may create the entry it describes."""
    path = operation.path
    value_filter = path.value_filter if path else None
    if value_filter is None or str(operation.op).lower() not in ("add", "replace"):
        return False
    if path.schema is not None and path.schema.lower() != USER_SCHEMA.lower():
        return False
    types = CANONICAL_TYPES.get(path.parts[0].lower()) if path.parts else None
    return (
        types is not None
        and isinstance(value_filter, Comparison)
        and value_filter.op == CompareOperator.eq
        and value_filter.attr_path.attr.lower() == "type"
        and value_filter.attr_path.sub_attr is None
        and value_filter.attr_path.uri is None
        and isinstance(value_filter.value, str)
        and value_filter.value.lower() in types
    )


def refuses_some(operations: Sequence[Any]) -> bool:
    """Whether an ``add`` or ``replace`` has a path filter that may not create its entry."""
    return any(
        operation.path is not None
        and operation.path.value_filter is not None
        and str(operation.op).lower() in ("add", "replace")
        and not may_create_entry(operation)
        for operation in operations
    )


def runs(operations: Sequence[Any]) -> Iterator[tuple[bool, list[Any]]]:
    """The operations in order, cut into runs that all may, or all may not, create entries.

    An operation without a path filter never creates an entry; it joins the run
    it follows, so a PATCH that needs no distinction stays one run.
    """
    current: list[Any] = []
    creating: bool | None = None
    for operation in operations:
        path = operation.path
        if path is None or path.value_filter is None:
            current.append(operation)
            continue
        this = may_create_entry(operation)
        if creating is not None and this != creating and current:
            yield creating, current
            current = []
        creating = this
        current.append(operation)
    if current:
        yield bool(creating), current
