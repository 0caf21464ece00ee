"""Reading SCIM requests: bodies, resources, PATCH operations and list parameters."""

import json
from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

from pydantic import ValidationError
from scim2_models import (
    Context,
    InvalidFilterException,
    InvalidSyntaxException,
    InvalidValueException,
    PatchOp,
    Resource,
    SearchRequest,
)
from scim2_models.path import LogicalExpr, Not, ValuePath

from scimgate.scim.attribute_names import canonical_patch, canonical_resource
from scimgate.scim.errors import from_validation_error
from scimgate.scim.limits import Limits
from scimgate.scim.text import UNSTORABLE_DETAIL, holds_unstorable
from scimgate.scim.tolerance import (
    SERVICE_POLICY,
    quote_bare_values,
    tolerate_patch,
    tolerate_resource,
)

ResourceT = TypeVar("ResourceT", bound=Resource[Any])

LIST_PARAMETERS = (
    "filter",
    "sortBy",
    "sortOrder",
    "startIndex",
    "count",
    "cursor",
    "attributes",
    "excludedAttributes",
)
"""The query parameters of RFC 7644 §3.4.2 and RFC 9865; any other one is ignored."""


def decode_json(body: bytes) -> dict[str, Any]:
    """Decode a request body that must be a JSON object."""
    try:
        payload = json.loads(body)
    except RecursionError:
        raise InvalidSyntaxException(
            detail="The request body nests JSON too deeply to be a SCIM message"
        ) from None
    except ValueError as exc:  # not JSON, not UTF-8, or an integer of thousands of digits
        raise InvalidSyntaxException(detail=f"The request body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise InvalidSyntaxException(
            detail=f"The request body must be a JSON object, not {type(payload).__name__}"
        )
    if holds_unstorable(payload):
        raise InvalidValueException(detail=UNSTORABLE_DETAIL)
    return payload


def read_resource(
    model: type[ResourceT], payload: dict[str, Any], context: Context, what: str, users_url: str
) -> ResourceT:
    """Validate a creation or replacement body against its resource model.

    ``users_url`` is where the directory's users live, for references IdPs leave out.
    """
    payload = tolerate_resource(canonical_resource(model, payload), users_url)
    _require_schema(payload, str(model.__schema__), what)
    try:
        return model.model_validate(payload, scim_ctx=context, scim_policy=SERVICE_POLICY)
    except ValidationError as exc:
        raise from_validation_error(exc, what) from None


def read_patch(
    model: type[ResourceT], payload: dict[str, Any], users_url: str
) -> PatchOp[ResourceT]:
    """Validate a PATCH body: every operation's path and value are checked before any is applied."""
    payload = tolerate_patch(canonical_patch(model, payload), users_url)
    _require_schema(payload, str(PatchOp.__schema__), "PATCH request")
    try:
        patch: PatchOp[ResourceT] = PatchOp[model].model_validate(  # type: ignore[valid-type]
            payload, scim_ctx=Context.RESOURCE_PATCH_REQUEST, scim_policy=SERVICE_POLICY
        )
    except ValidationError as exc:
        raise from_validation_error(exc, _patch_culprit(model, payload, exc)) from None
    return patch


def _patch_culprit(model: type[ResourceT], payload: dict[str, Any], exc: ValidationError) -> str:
    """Name the part of a refused PATCH to blame, for errors that do not say which.

    A key beside ``Operations`` is the request's own. Otherwise the models
    check the operations as a whole; trying them one at a time, only once the
    request has already failed, finds the first one to blame.
    """
    if any(error["loc"] and error["loc"][0] != "Operations" for error in exc.errors()):
        return "PATCH request (at its top level, beside 'Operations')"
    operations = payload.get("Operations")
    if not isinstance(operations, list):
        return "PATCH request"
    for number, operation in enumerate(operations, start=1):
        try:
            PatchOp[model].model_validate(  # type: ignore[valid-type]
                {"schemas": payload.get("schemas"), "Operations": [operation]},
                scim_ctx=Context.RESOURCE_PATCH_REQUEST,
                scim_policy=SERVICE_POLICY,
            )
        except ValidationError:
            if isinstance(operation, dict):
                described = f"{operation.get('op')} {operation.get('path') or '(no path)'}"
                return f"PATCH operation {number} ({described})"
            return f"PATCH operation {number}"
    return "PATCH request"


def read_search(
    model: type[ResourceT], parameters: Mapping[str, Any], limits: Limits
) -> SearchRequest[ResourceT]:
    """Validate list parameters (from a query string or a ``.search`` body), within the limits."""
    max_filter_length = limits.max_filter_length
    max_filter_terms = limits.max_filter_terms
    known = {name: parameters[name] for name in LIST_PARAMETERS if name in parameters}
    if holds_unstorable(known):
        raise InvalidValueException(detail=UNSTORABLE_DETAIL)
    known.update(attribute_names(known, limits.max_attribute_names))
    scim_filter = known.get("filter")
    if isinstance(scim_filter, str) and len(scim_filter) > max_filter_length:
        raise InvalidFilterException(
            detail=f"The filter is {len(scim_filter)} characters long; "
            f"at most {max_filter_length} are accepted"
        )
    search = _validated_search(model, known, scim_filter)
    if search.filter is not None:
        leaves = list(_leaves(search.filter.ast))
        if len(leaves) > max_filter_terms:
            raise InvalidFilterException(
                detail=f"The filter has {len(leaves)} comparisons; at most {max_filter_terms} "
                "are accepted: split the query"
            )
        if any(holds_unstorable(getattr(leaf, "value", None)) for leaf in leaves):
            raise InvalidFilterException(detail=UNSTORABLE_DETAIL)
    return search


ATTRIBUTE_PARAMETERS = ("attributes", "excludedAttributes")


def attribute_names(parameters: Mapping[str, Any], limit: int) -> dict[str, Any]:
    """``attributes`` and ``excludedAttributes`` each listing a name once, and at most ``limit``.

    A query string gives them comma-separated, a ``.search`` body as a list;
    names are compared without regard to case, as attribute names are
    (RFC 7643 §2.1). Anything else is left for the models to refuse.
    """
    cleaned: dict[str, Any] = {}
    for parameter in ATTRIBUTE_PARAMETERS:
        value = parameters.get(parameter)
        if isinstance(value, str):
            names: list[Any] = value.split(",")
        elif isinstance(value, list) and all(isinstance(name, str) for name in value):
            names = value
        else:
            continue
        distinct: dict[str, str] = {}
        for name in names:
            distinct.setdefault(name.strip().lower(), name)
        if len(distinct) > limit:
            raise InvalidValueException(
                detail=f"{parameter} lists {len(distinct)} distinct attribute names; "
                f"at most {limit} are accepted"
            )
        if len(distinct) < len(names):
            kept = list(distinct.values())
            cleaned[parameter] = ",".join(kept) if isinstance(value, str) else kept
    return cleaned


def _validated_search(
    model: type[ResourceT], known: dict[str, Any], scim_filter: Any
) -> SearchRequest[ResourceT]:
    try:
        search: SearchRequest[ResourceT] = SearchRequest[model].model_validate(  # type: ignore[valid-type]
            known, scim_ctx=Context.SEARCH_REQUEST
        )
    except ValidationError as exc:
        error = from_validation_error(exc, "query")
        requoted = quote_bare_values(scim_filter) if isinstance(scim_filter, str) else None
        if requoted is None:
            raise error from None
        try:
            return SearchRequest[model].model_validate(  # type: ignore[valid-type]
                {**known, "filter": requoted}, scim_ctx=Context.SEARCH_REQUEST
            )
        except ValidationError:
            raise error from None
    return search


def _leaves(node: Any) -> Iterator[Any]:
    """The comparisons (``pr`` included) of a parsed filter: its cost in SQL."""
    if isinstance(node, LogicalExpr):
        for term in node.terms:
            yield from _leaves(term)
    elif isinstance(node, Not):
        yield from _leaves(node.expr)
    elif isinstance(node, ValuePath):
        yield from _leaves(node.val_filter)
    else:
        yield node


def _require_schema(payload: dict[str, Any], schema: str, what: str) -> None:
    """Refuse a body whose ``schemas`` does not name the message or resource schema it must."""
    schemas = payload.get("schemas")
    if not isinstance(schemas, list) or schema.lower() not in {
        str(each).lower() for each in schemas
    }:
        raise InvalidValueException(
            detail=f"Invalid {what}: 'schemas' must list \"{schema}\", got {schemas!r}"
        )
