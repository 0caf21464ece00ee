"""SCIM responses: ``application/scim+json`` bodies and the error envelope."""

from typing import Any

import structlog
from fastapi.responses import Response
from scim2_models import Context, Error, Message, Resource, ResponseParameters, SCIMException

from scimgate.scim.documents import ListDocument, ScimDocument
from scimgate.scim.errors import RetryLater
from scimgate.service.provisioning.credentials import InvalidToken

SCIM_MEDIA_TYPE = "application/scim+json"


class ScimResponse(Response):
    media_type = SCIM_MEDIA_TYPE

    document: dict[str, Any] | None = None
    """The value the body is the JSON of, when it was written from one
    (:class:`~scimgate.scim.documents.Written`)."""


class HttpError(SCIMException):
    """An error of HTTP itself rather than of a SCIM handler (no such route, a server error)."""


def http_error(status: int, detail: str) -> "ScimResponse":
    """The SCIM error envelope of an ``HttpError``."""
    error = HttpError(detail=detail)
    error.status = status
    return error_response(error)


def render(
    payload: Resource[Any] | Message | ScimDocument | ListDocument,
    context: Context,
    *,
    status: int = 200,
    parameters: ResponseParameters[Any] | None = None,
    headers: dict[str, str] | None = None,
) -> ScimResponse:
    document = None
    if isinstance(payload, ScimDocument | ListDocument):
        body, document = payload.written(context, parameters)
    else:
        body = payload.model_dump_json(scim_ctx=context, response_parameters=parameters)
    response = ScimResponse(body, status_code=status, headers=headers)
    response.document = document
    return response


def resource_response(
    resource: Resource[Any] | ScimDocument,
    context: Context,
    *,
    status: int = 200,
    parameters: ResponseParameters[Any] | None = None,
) -> ScimResponse:
    """A single resource, with its ``ETag`` (and ``Location`` when it was just created)."""
    meta = resource.meta
    headers: dict[str, str] = {}
    if meta is not None and meta.version:
        headers["ETag"] = meta.version
    if meta is not None and meta.location and status == 201:
        headers["Location"] = str(meta.location)
    return render(resource, context, status=status, parameters=parameters, headers=headers)


def error_response(exc: SCIMException) -> ScimResponse:
    """The SCIM error envelope; its detail ends with the request id, for support to trace."""
    error: Error = exc.to_error()
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    if request_id is not None:
        reference = f"(request id {request_id})"
        error.detail = f"{error.detail} {reference}" if error.detail else reference
    status = int(error.status or 500)
    headers: dict[str, str] = {}
    if isinstance(exc, InvalidToken):  # RFC 6750 §3.1: a token was sent, and why it failed
        why = (exc.detail or "").replace("\\", "").replace('"', "'")
        headers["WWW-Authenticate"] = (
            f'Bearer realm="scimgate", error="invalid_token", error_description="{why}"'
        )
    elif status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="scimgate"'
    if isinstance(exc, RetryLater):
        headers["Retry-After"] = str(exc.retry_after)
    return ScimResponse(
        error.model_dump_json(scim_ctx=Context.DEFAULT), status_code=status, headers=headers
    )
