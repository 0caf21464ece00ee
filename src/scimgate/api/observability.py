"""Health, readiness and Prometheus metrics."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from scimgate import __version__

router = APIRouter()


@router.get("/healthz", include_in_schema=False)
def healthz() -> JSONResponse:
    """The process answers (liveness)."""
    return JSONResponse({"status": "ok", "version": __version__})
