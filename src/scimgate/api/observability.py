"""Health, readiness and Prometheus metrics."""

import os
from dataclasses import asdict

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from scim2_models import NotFoundException
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool

from scimgate import __version__
from scimgate.service.health import readiness
from scimgate.service.metrics import Metrics

router = APIRouter()


def metrics_of(app: Starlette) -> Metrics:
    """The application's metrics, created with its first use."""
    found: Metrics | None = getattr(app.state, "metrics", None)
    if found is None:
        found = app.state.metrics = Metrics(app.state.engine)
    return found


@router.get("/healthz", include_in_schema=False)
def healthz() -> JSONResponse:
    """The process answers (liveness)."""
    return JSONResponse({"status": "ok", "version": __version__})


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> JSONResponse:
    """Whether this server can do its job: 503, naming the failing checks, when it cannot."""
    found = await run_in_threadpool(readiness, request.app.state.engine)
    return JSONResponse(
        {"status": "ready" if found.ready else "not ready", "checks": asdict(found)},
        status_code=200 if found.ready else 503,
    )


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus metrics; open by convention, closed with ``SCIMGATE_METRICS=off``."""
    if os.environ.get("SCIMGATE_METRICS", "").lower() == "off":
        raise NotFoundException(detail="Metrics are turned off on this server")
    body = await run_in_threadpool(metrics_of(request.app).exposition)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
