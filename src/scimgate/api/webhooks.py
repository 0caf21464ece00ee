"""Webhook endpoints, their secrets, deliveries and attempts (management API)."""

import json
from collections.abc import Iterable
from dataclasses import asdict
from datetime import timedelta
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from scimgate.api.bounds import OverlapHours, Sequence, UtcDateTime
from scimgate.api.engine import EngineDep
from scimgate.api.invalid_requests import invalid_request, not_json
from scimgate.api.management import json_response, require_admin
from scimgate.service.administration.admin_keys import WRITE_SCOPE, Actor
from scimgate.service.event_stream import webhooks
from scimgate.service.event_stream.webhooks import WithSecret

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
async def register(request: Request, engine: EngineDep) -> JSONResponse:
    """Register an endpoint; the answer holds its signing secret, shown this once."""
    body = await _body(request, NewEndpoint)
    created = await run_in_threadpool(
        webhooks.register,
        engine,
        body.url,
        allowed=request.app.state.settings.events.webhook_allowed_hosts,
        organization_id=body.organization_id,
        event_types=body.event_types,
        description=body.description,
        revocation_hook=body.revocation_hook,
    )
    return _created(_with_secret(created))


@router.get("/webhooks")
def list_endpoints(engine: EngineDep, organization_id: str | None = None) -> JSONResponse:
    """Every endpoint, or those that receive an organization's events; never their secrets."""
    found = webhooks.list_endpoints(engine, organization_id)
    return _listing(found)


@router.get("/webhooks/{endpoint_id}")
def get_endpoint(engine: EngineDep, endpoint_id: str) -> JSONResponse:
    return json_response(asdict(webhooks.get_endpoint(engine, endpoint_id)))


@router.delete("/webhooks/{endpoint_id}")
def remove(engine: EngineDep, endpoint_id: str) -> Response:
    """Remove an endpoint with its deliveries and their attempts."""
    webhooks.remove(engine, endpoint_id)
    return Response(status_code=204)


@router.post("/webhooks/{endpoint_id}/enable")
def enable(engine: EngineDep, endpoint_id: str) -> JSONResponse:
    """Turn an endpoint back on: what waited for it is delivered, in order."""
    return json_response(asdict(webhooks.enable(engine, endpoint_id)))


@router.post("/webhooks/{endpoint_id}/disable", openapi_extra=_declared(Disabling))
async def disable(request: Request, engine: EngineDep, endpoint_id: str) -> JSONResponse:
    """Stop delivering to an endpoint; its events wait for it meanwhile."""
    body = await _body(request, Disabling)
    found = await run_in_threadpool(webhooks.disable, engine, endpoint_id, body.reason)
    return json_response(asdict(found))


@router.post("/webhooks/{endpoint_id}/rotate-secret", openapi_extra=_declared(Rotation))
async def rotate_secret(request: Request, engine: EngineDep, endpoint_id: str) -> JSONResponse:
    """A new signing secret, shown this once; the old one keeps signing for the overlap."""
    body = await _body(request, Rotation)
    rotated = await run_in_threadpool(
        webhooks.rotate_secret, engine, endpoint_id, timedelta(hours=body.overlap_hours)
    )
    return json_response(_with_secret(rotated))


@router.get("/webhooks/{endpoint_id}/deliveries")
def deliveries(
    engine: EngineDep,
    endpoint_id: str,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSONResponse:
    """An endpoint's deliveries, newest event first."""
    found = webhooks.deliveries(engine, endpoint_id, status, limit)
    return _listing(found)


@router.get("/webhooks/deliveries/{delivery_id}/attempts")
def attempts(request: Request, engine: EngineDep, delivery_id: str) -> JSONResponse:
    """Every attempt of a delivery: status code or error, latency, the start of the answer.

    The start of the answer is shown to write keys only (``null`` for a read key).
    """
    actor: Actor = request.state.admin_actor
    found = webhooks.attempts(engine, delivery_id, with_excerpts=actor.scope == WRITE_SCOPE)
    return _listing(found)


@router.post("/webhooks/deliveries/{delivery_id}/replay")
def replay(engine: EngineDep, delivery_id: str) -> JSONResponse:
    """Send a delivery's event again (same ``webhook-id``), as a new delivery."""
    return _created(asdict(webhooks.replay(engine, delivery_id)))


@router.post("/webhooks/deliveries/{delivery_id}/retry")
def retry_now(engine: EngineDep, delivery_id: str) -> JSONResponse:
    """Attempt a waiting (failing) delivery now instead of at its next scheduled retry."""
    return json_response(asdict(webhooks.retry_now(engine, delivery_id)))


@router.post("/webhooks/{endpoint_id}/replay", openapi_extra=_declared(ReplayRange))
async def replay_range(request: Request, engine: EngineDep, endpoint_id: str) -> JSONResponse:
    """Send again the endpoint's events in a time range or a sequence range."""
    body = await _body(request, ReplayRange)
    done = await run_in_threadpool(
        webhooks.replay_range,
        engine,
        endpoint_id,
        since=body.since,
        until=body.until,
        from_sequence=body.from_sequence,
        to_sequence=body.to_sequence,
    )
    return json_response(asdict(done))


async def _body(request: Request, model: type[Body]) -> Body:
    """The JSON body as a model (an empty body means the defaults); errors name the field.

    The handlers that read their body this way stay async, to await it.
    """
    raw = await request.body()
    try:
        payload: Any = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise not_json() from None
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        # Located as FastAPI locates the fields of a body it reads itself.
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        raise invalid_request(errors) from None


def _with_secret(issued: WithSecret) -> dict[str, Any]:
    return {**asdict(issued.endpoint), "secret": issued.secret}


def _listing(found: Iterable[Any]) -> JSONResponse:
    """Records (dataclasses) as a listing's ``data``."""
    return json_response({"data": [asdict(each) for each in found]})


def _created(payload: Any) -> JSONResponse:
    answer = json_response(payload)
    answer.status_code = 201
    return answer
