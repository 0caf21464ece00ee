"""The events API, the safety valve's controls and the offboarding report (management API)."""

import asyncio
import time
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from scim2_models import SCIMException
from starlette.concurrency import run_in_threadpool

from scimgate.api.bounds import Count32, UtcDateTime
from scimgate.api.engine import EngineDep
from scimgate.api.management import json_response, require_admin
from scimgate.events.report import offboarding_csv
from scimgate.service.event_stream import event_feed, publishing, safety
from scimgate.service.event_stream.event_feed import CursorExpired, EventFilter

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_admin)])

MAX_WAIT_SECONDS = 30.0
POLL_INTERVAL = 0.2


class _Gone(SCIMException):
    """The cursor points to events retention has removed."""

    status = 410


@router.get("/events")
async def list_events(
    request: Request,
    engine: EngineDep,
    after: Annotated[
        int, Query(ge=0, le=2**63 - 1, description="Cursor: the last sequence already read")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    organization_id: str | None = None,
    directory_id: str | None = None,
    types: Annotated[str | None, Query(description="Comma-separated event types")] = None,
    wait: Annotated[float, Query(ge=0, le=MAX_WAIT_SECONDS)] = 0,
) -> JSONResponse:
    """Events after a cursor, oldest first; ``wait`` long-polls for up to that many seconds."""
    # Async, unlike the other handlers: it waits between reads on the event loop, not a thread.
    where = EventFilter(
        organization_id=organization_id,
        directory_id=directory_id,
        types=tuple(kind.strip() for kind in (types or "").split(",") if kind.strip()),
    )
    deadline = time.monotonic() + wait
    while True:
        try:
            page = await run_in_threadpool(event_feed.read_events, engine, after, limit, where)
        except CursorExpired as exc:
            raise _Gone(detail=str(exc)) from None
        if page.events or time.monotonic() >= deadline or await request.is_disconnected():
            break
        await asyncio.sleep(POLL_INTERVAL)
    return json_response({"data": page.events, "next_cursor": page.next_cursor})


@router.get("/events/latest")
def latest_cursor(engine: EngineDep) -> JSONResponse:
    """The newest cursor: start from it to receive only what happens next."""
    return json_response({"cursor": event_feed.latest_cursor(engine)})


@router.get("/directories/{directory_id}/users/{user_id}/events")
def user_history(engine: EngineDep, directory_id: str, user_id: str) -> JSONResponse:
    """Every published event about one user, oldest first."""
    return json_response({"data": event_feed.user_history(engine, directory_id, user_id)})


@router.post("/directories/{directory_id}/users/{user_id}/access-revoked")
def access_revoked(engine: EngineDep, directory_id: str, user_id: str) -> JSONResponse:
    """The app confirms it revoked the user's sessions and tokens (proof of offboarding)."""
    confirmed = event_feed.confirm_revoked(engine, directory_id, user_id)
    return json_response({"confirmed": confirmed})


@router.get("/directories/{directory_id}/held")
def held(engine: EngineDep, directory_id: str) -> JSONResponse:
    """Whether the directory's events are held back, and how many."""
    return json_response(publishing.held_summary(engine, directory_id))


@router.post("/directories/{directory_id}/held/release")
def release_held(engine: EngineDep, directory_id: str) -> JSONResponse:
    """Publish the held events in their order and resume live delivery."""
    return json_response({"released": publishing.release(engine, directory_id)})


@router.post("/directories/{directory_id}/held/discard")
def discard_held(engine: EngineDep, directory_id: str) -> JSONResponse:
    """Drop the held events (the changes stay stored) and resume live delivery."""
    return json_response({"discarded": publishing.discard(engine, directory_id)})


class SafetySettings(BaseModel):
    max_count: Count32 | None = None
    max_percent: int | None = Field(default=None, ge=0, le=100)
    window_minutes: int | None = Field(default=None, ge=1, le=7 * 24 * 60)


@router.patch("/directories/{directory_id}/safety")
def set_safety(engine: EngineDep, directory_id: str, body: SafetySettings) -> JSONResponse:
    """Change the safety valve's thresholds (0 turns a rule off)."""
    found = safety.configure(
        engine,
        directory_id,
        max_count=body.max_count,
        max_percent=body.max_percent,
        window_minutes=body.window_minutes,
    )
    return json_response(found)


@router.get("/offboarding/report")
def offboarding_report(
    engine: EngineDep,
    organization_id: str,
    since: UtcDateTime,
    until: UtcDateTime | None = None,
    directory_id: str | None = None,
    format: Literal["json", "csv"] = "json",
) -> Response:
    """Each deprovisioning: when the IdP asked, when the app was told, when it confirmed."""
    rows = event_feed.offboarding_report(
        engine,
        organization_id,
        since,
        until or datetime.now(UTC),
        directory_id,
    )
    if format == "csv":
        return Response(
            offboarding_csv(rows),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="offboarding.csv"'},
        )
    return json_response({"data": [row.model_dump(mode="json") for row in rows]})
