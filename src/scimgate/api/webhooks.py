"""Webhook endpoints, their secrets, deliveries and attempts (management API)."""

import json
from dataclasses import asdict
from datetime import timedelta
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from scim2_models import InvalidSyntaxException, InvalidValueException
from starlette.concurrency import run_in_threadpool

from scimgate.api.bounds import OverlapHours, Sequence, UtcDateTime
from scimgate.api.management import json_response, require_admin
from scimgate.service import webhooks
from scimgate.service.admin_keys import WRITE_SCOPE, Actor
from scimgate.service.webhooks import WithSecret

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_admin)])

Body = TypeVar("Body", bound=BaseModel)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _declared(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI body of a route that reads its body by hand (``_body``): it is optional."""
    schema = model.model_json_schema()
    return {"requestBody": {"required": False, "content": {"application/json": {"schema": schema}}}}


class NewEndpoint(_Request):
    url: str
    organization_id: str | None = None
    event_types: list[str] = Field(default_factory=list)
    description: str = ""
    revocation_hook: bool = False


class Disabling(_Request):
    reason: str | None = Field(default=None, max_length=512)


class Rotation(_Request):
    overlap_hours: OverlapHours = 24


class ReplayRange(_Request):
    since: UtcDateTime | None = None
    until: UtcDateTime | None = None
    from_sequence: Sequence | None = None
    to_sequence: Sequence | None = None


@router.post("/webhooks", openapi_extra=_declared(NewEndpoint))
async def register(request: Request) -> JSONResponse:
    """Register an endpoint; the answer holds its signing secret, shown this once."""
    body = await _body(request, NewEndpoint)
    created = await run_in_threadpool(
        webhooks.register,
        request.app.state.engine,
        body.url,
        allowed=request.app.state.settings.events.webhook_allowed_hosts,
        organization_id=body.organization_id,
        event_types=body.event_types,
        description=body.description,
        revocation_hook=body.revocation_hook,
    )
    return _created(_with_secret(created))


@router.get("/webhooks")
async def list_endpoints(request: Request, organization_id: str | None = None) -> JSONResponse:
    """Every endpoint, or those that receive an organization's events; never their secrets."""
    found = await run_in_threadpool(
        webhooks.list_endpoints, request.app.state.engine, organization_id
    )
    return json_response({"data": [asdict(each) for each in found]})


@router.get("/webhooks/{endpoint_id}")
async def get_endpoint(request: Request, endpoint_id: str) -> JSONResponse:
    found = await run_in_threadpool(webhooks.get_endpoint, request.app.state.engine, endpoint_id)
    return json_response(asdict(found))


@router.delete("/webhooks/{endpoint_id}")
async def remove(request: Request, endpoint_id: str) -> Response:
    """Remove an endpoint with its deliveries and their attempts."""
    await run_in_threadpool(webhooks.remove, request.app.state.engine, endpoint_id)
    return Response(status_code=204)


@router.post("/webhooks/{endpoint_id}/enable")
async def enable(request: Request, endpoint_id: str) -> JSONResponse:
    """Turn an endpoint back on: what waited for it is delivered, in order."""
    found = await run_in_threadpool(webhooks.enable, request.app.state.engine, endpoint_id)
    return json_response(asdict(found))


@router.post("/webhooks/{endpoint_id}/disable", openapi_extra=_declared(Disabling))
async def disable(request: Request, endpoint_id: str) -> JSONResponse:
    """Stop delivering to an endpoint; its events wait for it meanwhile."""
    body = await _body(request, Disabling)
    found = await run_in_threadpool(
        webhooks.disable, request.app.state.engine, endpoint_id, body.reason
    )
    return json_response(asdict(found))


@router.post("/webhooks/{endpoint_id}/rotate-secret", openapi_extra=_declared(Rotation))
async def rotate_secret(request: Request, endpoint_id: str) -> JSONResponse:
    """A new signing secret, shown this once; the old one keeps signing for the overlap."""
    body = await _body(request, Rotation)
    rotated = await run_in_threadpool(
        webhooks.rotate_secret,
        request.app.state.engine,
        endpoint_id,
        timedelta(hours=body.overlap_hours),
    )
    return json_response(_with_secret(rotated))


@router.get("/webhooks/{endpoint_id}/deliveries")
async def deliveries(
    request: Request,
    endpoint_id: str,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSONResponse:
    """An endpoint's deliveries, newest event first."""
    found = await run_in_threadpool(
        webhooks.deliveries, request.app.state.engine, endpoint_id, status, limit
    )
    return json_response({"data": [asdict(each) for each in found]})


@router.get("/webhooks/deliveries/{delivery_id}/attempts")
async def attempts(request: Request, delivery_id: str) -> JSONResponse:
    """Every attempt of a delivery: status code or error, latency, the start of the answer.

    The start of the answer is shown to write keys only (``null`` for a read key).
    """
    actor: Actor = request.state.admin_actor
    found = await run_in_threadpool(
        webhooks.attempts,
        request.app.state.engine,
        delivery_id,
        with_excerpts=actor.scope == WRITE_SCOPE,
    )
    return json_response({"data": [asdict(each) for each in found]})


@router.post("/webhooks/deliveries/{delivery_id}/replay")
async def replay(request: Request, delivery_id: str) -> JSONResponse:
    """Send a delivery's event again (same ``webhook-id``), as a new delivery."""
    again = await run_in_threadpool(webhooks.replay, request.app.state.engine, delivery_id)
    return _created(asdict(again))


@router.post("/webhooks/deliveries/{delivery_id}/retry")
async def retry_now(request: Request, delivery_id: str) -> JSONResponse:
    """Attempt a waiting (failing) delivery now instead of at its next scheduled retry."""
    found = await run_in_threadpool(webhooks.retry_now, request.app.state.engine, delivery_id)
    return json_response(asdict(found))


@router.post("/webhooks/{endpoint_id}/replay", openapi_extra=_declared(ReplayRange))
async def replay_range(request: Request, endpoint_id: str) -> JSONResponse:
    """Send again the endpoint's events in a time range or a sequence range."""
    body = await _body(request, ReplayRange)
    done = await run_in_threadpool(
        webhooks.replay_range,
        request.app.state.engine,
        endpoint_id,
        since=body.since,
        until=body.until,
        from_sequence=body.from_sequence,
        to_sequence=body.to_sequence,
    )
    return json_response(asdict(done))


async def _body(request: Request, model: type[Body]) -> Body:
    """The JSON body as a model (an empty body means the defaults); errors name the field."""
    raw = await request.body()
    try:
        payload: Any = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise InvalidSyntaxException(detail="The request body is not valid JSON") from None
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "body"
        raise InvalidValueException(detail=f"{where}: {error['msg']}") from None


def _with_secret(issued: WithSecret) -> dict[str, Any]:
    return {**asdict(issued.endpoint), "secret": issued.secret}


def _created(payload: Any) -> JSONResponse:
    answer = json_response(payload)
    answer.status_code = 201
    return answer
