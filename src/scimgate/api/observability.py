"""Health, readiness and Prometheus metrics."""

import hmac
from dataclasses import asdict

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from scim2_models import NotFoundException, UnauthorizedException
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool

from scimgate import __version__
from scimgate.api.clients import client_address
from scimgate.api.engine import EngineDep
from scimgate.config import MetricsSettings
from scimgate.service.operations.health import readiness
from scimgate.service.operations.metrics import Metrics
from scimgate.service.provisioning.rate_limits import RateLimiter

router = APIRouter()


def metrics_of(app: Starlette) -> Metrics:
    """The application's metrics, created with its first use."""
    found: Metrics | None = getattr(app.state, "metrics", None)
    if found is None:
        found = app.state.metrics = Metrics(app.state.engine, app.state.settings.metrics)
    return found


@router.get("/healthz", include_in_schema=False)
def healthz() -> JSONResponse:
    """The process answers (liveness)."""
    return JSONResponse({"status": "ok", "version": __version__})


@router.get("/readyz", include_in_schema=False)
def readyz(engine: EngineDep) -> JSONResponse:
    """Whether this server can do its job: 503, naming the failing checks, when it cannot."""
    found = readiness(engine)
    return JSONResponse(
        {"status": "ready" if found.ready else "not ready", "checks": asdict(found)},
        status_code=200 if found.ready else 503,
    )


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus metrics, for a scraper sending ``SCIMGATE_METRICS_TOKEN`` as its bearer token.

    Without that setting there are none (404): they name no directory, but
    they show how busy the service is.
    """
    settings: MetricsSettings = request.app.state.settings.metrics
    if settings.token is None:
        raise NotFoundException(
            detail="Metrics are off on this server; SCIMGATE_METRICS_TOKEN turns them on"
        )
    if not _bearer_is(request.headers.get("authorization"), settings.token):
        limiter: RateLimiter = request.app.state.rate_limiter
        await run_in_threadpool(limiter.check_refused, client_address(request.scope))
        raise UnauthorizedException(
            detail="Send the metrics token as 'Authorization: Bearer <token>'"
        )
    body = await run_in_threadpool(metrics_of(request.app).exposition)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def _bearer_is(authorization: str | None, token: str) -> bool:
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )
