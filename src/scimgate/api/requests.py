"""Reading the HTTP side of a SCIM request: media types, query parameters."""

from typing import Any

from pydantic import ValidationError
from scim2_models import ResponseParameters, SCIMException
from starlette.datastructures import Headers
from starlette.requests import Request

from scimgate.scim.errors import from_validation_error
from scimgate.scim.requests import attribute_names

ACCEPTED_MEDIA_TYPES = ("application/scim+json", "application/json")


class UnsupportedMediaType(SCIMException):
    """A body in a media type SCIM does not use (RFC 7644 §3.1 and §8.1)."""

    status = 415


def media_type_refusal(headers: Headers) -> UnsupportedMediaType | None:
    """The refusal of a body that is not JSON (given before it is read), or None.

    Its size is capped for every route by ``api.body_limits``, at ``max_payload_bytes`` here.
    """
    media_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type in ACCEPTED_MEDIA_TYPES:
        return None
    return UnsupportedMediaType(
        detail=f"Content-Type {media_type or '(none)'} is not accepted: "
        "send application/scim+json (or application/json)"
    )


_EVERY_ATTRIBUTE: ResponseParameters[Any] = ResponseParameters()
"""What most requests ask for: the default attributes (validated once)."""


def response_parameters(request: Request) -> ResponseParameters[Any]:
    """``attributes`` and ``excludedAttributes`` from the query string (RFC 7644 §3.9)."""
    query = {
        name: request.query_params[name]
        for name in ("attributes", "excludedAttributes")
        if name in request.query_params
    }
    if not query:
        return _EVERY_ATTRIBUTE
    query.update(attribute_names(query, request.app.state.settings.limits.max_attribute_names))
    try:
        return ResponseParameters.model_validate(query)
    except ValidationError as exc:
        raise from_validation_error(exc, "attributes parameter") from None
