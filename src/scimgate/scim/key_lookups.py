"""Recognising the lookups identity providers make before they create: one equality, no sort.

An IdP asks ``GET /Users?filter=userName eq "x"`` (Entra also ``externalId eq``,
and ``displayName eq`` for groups) before nearly every creation, and usually
finds nobody. Parsing that with the filter grammar and translating the tree to
SQL costs more than the query itself; a request in exactly this shape is read
here instead, with a strict pattern, and answered by one indexed query
(``service.provisioning.key_lookups``). Anything else (another spelling of the attribute or
the operator, an escape or a control character in the value, a sort, a cursor,
a start past the first result, attributes to return) is left to
the general path, which gives the same answer to what this one recognises.
``excludedAttributes`` (Entra leaves out a group's ``members``) is read as the
general path reads it, without the filter.
"""

import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from scim2_models import Context, SCIMException, SearchRequest

from scimgate.records import frozen
from scimgate.scim.limits import Limits
from scimgate.scim.requests import LIST_PARAMETERS, attribute_names
from scimgate.scim.text import holds_unstorable

_KEYS = {
    "User": ("userName", "externalId"),
    "Group": ("displayName", "externalId"),
}
"""The attributes each resource type is looked up by, as IdPs spell them."""

_FILTER = re.compile(r'(\w+) eq "([^"\\\x00-\x1f\x7f]*)"')
"""One equality on a bare attribute name with a string free of escapes and control
characters: the value between the quotes is then the value the grammar reads."""

_RULED_OUT = frozenset(LIST_PARAMETERS) - {"filter", "count", "startIndex", "excludedAttributes"}
"""The list parameters that leave a lookup to the general path (a sort, a cursor, ...)."""

_COUNT = re.compile(r"[1-9][0-9]{0,8}")
"""A positive count in its plain spelling (the general path takes "007" and "-1" too)."""


@frozen
class KeyLookup:
    """``attribute eq "value"`` on one of the lookup keys, on the first page."""

    attribute: str
    value: str
    count: int | None
    """As asked; None for the server's default."""

    response: SearchRequest[Any] | None = None
    """The attributes to leave out, as the general path reads them; None when none are."""


def looks_like_key_lookup(parameters: Mapping[str, Any], resource_type: str) -> bool:
    """Whether a query string has the shape of a key lookup: one equality on a lookup key
    and no parameter the lookup leaves to the general path (the limits are not checked)."""
    return _key_equality(parameters, resource_type) is not None


def _key_equality(parameters: Mapping[str, Any], resource_type: str) -> re.Match[str] | None:
    """The filter's one equality on a lookup key, when no other parameter rules it out."""
    if not _RULED_OUT.isdisjoint(parameters):
        return None
    scim_filter = parameters.get("filter")
    matched = _FILTER.fullmatch(scim_filter) if isinstance(scim_filter, str) else None
    return matched if matched is not None and matched[1] in _KEYS[resource_type] else None


def key_lookup(
    parameters: Mapping[str, Any], resource_type: str, model: Any, limits: Limits
) -> KeyLookup | None:
    """The lookup a query string asks for, or None when the general path must read it.

    ``model`` is the directory's model of the resource type, that attribute names bind to.
    """
    matched = _key_equality(parameters, resource_type)
    if matched is None or len(matched[0]) > limits.max_filter_length:
        return None
    if limits.max_filter_terms < 1 or holds_unstorable(matched[0]):
        return None
    start_index = _given(parameters, "startIndex")
    if start_index is not None and start_index != "1":
        return None
    count = _given(parameters, "count")
    if count is not None and not (isinstance(count, str) and _COUNT.fullmatch(count)):
        return None
    response = None
    excluded = _given(parameters, "excludedAttributes")
    if excluded is not None:
        response = _leaving_out(model, excluded, limits)
        if response is None:
            return None
    return KeyLookup(matched[1], matched[2], int(count) if count is not None else None, response)


def _given(parameters: Mapping[str, Any], name: str) -> Any:
    """A parameter's value, or None: asked with ``in`` first, since a query string's mapping
    (Starlette's) answers ``get`` for a name it lacks by raising and catching ``KeyError``,
    and a lookup lacks most of the parameters it asks for."""
    return parameters[name] if name in parameters else None  # noqa: SIM401 (see above)


def _leaving_out(model: Any, excluded: Any, limits: Limits) -> SearchRequest[Any] | None:
    """``excludedAttributes`` read as ``read_search`` reads it, or None for it to say why not."""
    known = {"excludedAttributes": excluded}
    if not isinstance(excluded, str) or holds_unstorable(excluded):
        return None
    try:
        known.update(attribute_names(known, limits.max_attribute_names))
        search: SearchRequest[Any] = SearchRequest[model].model_validate(
            known, scim_ctx=Context.SEARCH_REQUEST
        )
    except (ValidationError, SCIMException):
        return None
    return search
