"""The provisioning log over HTTP: every SCIM request of a directory, with a diagnosis."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from scim2_models import NotFoundException

from scimgate.api.bounds import UtcDateTime
from scimgate.api.engine import EngineDep
from scimgate.api.management import json_response, require_admin
from scimgate.service.operations import provisioning_log
from scimgate.service.operations.provisioning_log import LogPage, as_dict

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_admin)])


@router.get("/directories/{directory_id}/logs")
def list_logs(
    engine: EngineDep,
    directory_id: str,
    status: str | None = None,
    user: str | None = None,
    since: UtcDateTime | None = None,
    until: UtcDateTime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: str | None = None,
) -> JSONResponse:
    """A page of the directory's log, newest first, without bodies."""
    page: LogPage = provisioning_log.search(
        engine,
        directory_id,
        limit=limit,
        status=status,
        user=user,
        since=since,
        until=until,
        before=before,
    )
    return json_response(
        {
            "data": [as_dict(found, bodies=False) for found in page.entries],
            "next_cursor": page.next_cursor,
        }
    )


@router.get("/directories/{directory_id}/logs/{log_id}")
def get_log(engine: EngineDep, directory_id: str, log_id: str) -> JSONResponse:
    """One entry with its bodies and diagnosis."""
    found = provisioning_log.entry(engine, directory_id, log_id)
    if found is None:
        raise NotFoundException(detail=f"No log entry {log_id} in directory {directory_id}")
    return json_response(as_dict(found, bodies=True))


@router.get("/logs/{request_id}")
def log_of_request(engine: EngineDep, request_id: str) -> JSONResponse:
    """The entry of a request id (as an IdP or a server log quotes it)."""
    found = provisioning_log.find(engine, request_id)
    if found is None:
        raise NotFoundException(detail=f"No log entry for request {request_id}")
    return json_response(as_dict(found, bodies=True))
