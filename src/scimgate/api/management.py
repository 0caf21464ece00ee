"""The management API the application calls: its directories' users and drift, normalized.

It is opened by the operator's admin token (``SCIMGATE_ADMIN_TOKEN``), never
by a directory's SCIM token; without an admin token configured it is closed.
"""

import hmac
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from scim2_models import InvalidValueException, NotFoundException, UnauthorizedException
from starlette.concurrency import run_in_threadpool

from scimgate.service import confirmations
from scimgate.service.directory_view import directory_groups, directory_users


def require_admin(request: Request) -> None:
    """Open the management API only to the operator's admin token."""
    expected = request.app.state.settings.admin_token
    if not expected:
        raise UnauthorizedException(
            detail="The management API is closed: set SCIMGATE_ADMIN_TOKEN to open it"
        )
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), expected.encode()
    ):
        raise UnauthorizedException(detail="The admin token is not valid")


router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_admin)])


Count = Annotated[int, Query(ge=0, le=1000)]
StartIndex = Annotated[int, Query(alias="startIndex", ge=1)]


@router.get("/directories/{directory_id}/users")
async def list_users(
    request: Request, directory_id: str, count: Count = 100, start_index: StartIndex = 1
) -> JSONResponse:
    """A page of the directory's users in the normalized shape, whichever IdP sent them."""
    total, found = await _normalized(request, directory_users, directory_id, count, start_index)
    return json_response({"total": total, "users": [asdict(user) for user in found]})


@router.get("/directories/{directory_id}/groups")
async def list_groups(
    request: Request, directory_id: str, count: Count = 100, start_index: StartIndex = 1
) -> JSONResponse:
    """A page of the directory's groups in the normalized shape."""
    total, found = await _normalized(request, directory_groups, directory_id, count, start_index)
    return json_response({"total": total, "groups": [asdict(group) for group in found]})


async def _normalized(
    request: Request, view: Any, directory_id: str, count: int, start_index: int
) -> tuple[int, list[Any]]:
    root = request.app.state.settings.public_url or str(request.base_url)
    try:
        found: tuple[int, list[Any]] = await run_in_threadpool(
            view,
            request.app.state.engine,
            directory_id,
            root,
            count=count,
            start_index=start_index,
        )
    except LookupError:
        raise NotFoundException(detail=f"No directory {directory_id}") from None
    return found


@router.get("/directories/{directory_id}/drift")
async def drift(
    request: Request,
    directory_id: str,
    since: datetime | None = None,
    older_than_hours: float | None = None,
) -> JSONResponse:
    """Users and groups the IdP has not confirmed since a time: missed deprovisionings."""
    try:
        cutoff = confirmations.drift_cutoff(since, older_than_hours)
    except ValueError as exc:
        raise InvalidValueException(detail=f"Drift report: {exc}") from None
    try:
        found = await run_in_threadpool(
            confirmations.drift_report, request.app.state.engine, directory_id, cutoff
        )
    except LookupError:
        raise NotFoundException(detail=f"No directory {directory_id}") from None
    return json_response({"since": cutoff, "resources": [asdict(item) for item in found]})


def json_response(payload: Any) -> JSONResponse:
    return JSONResponse(jsonable_encoder(payload))
