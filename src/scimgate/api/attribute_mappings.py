"""A directory's attribute mappings over the management API: read, set, remove one."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field, StringConstraints
from scim2_models import NotFoundException
from starlette.concurrency import run_in_threadpool

from scimgate.api.management import require_admin
from scimgate.service import attribute_mappings

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_admin)])


class MappingIn(BaseModel):
    path: Annotated[str, StringConstraints(min_length=1, max_length=512)]


class Mappings(BaseModel):
    mappings: dict[str, str] = Field(description="Custom attribute name -> SCIM path")


@router.get("/directories/{directory_id}/mappings", summary="Effective attribute mappings")
async def get_mappings(request: Request, directory_id: str) -> Mappings:
    found = await run_in_threadpool(
        attribute_mappings.effective_mappings, request.app.state.engine, directory_id
    )
    return Mappings(mappings=found)


@router.put("/directories/{directory_id}/mappings/{name}", summary="Map a custom attribute")
async def set_mapping(request: Request, directory_id: str, name: str, body: MappingIn) -> Mappings:
    engine = request.app.state.engine
    await run_in_threadpool(attribute_mappings.set_mapping, engine, directory_id, name, body.path)
    found = await run_in_threadpool(attribute_mappings.effective_mappings, engine, directory_id)
    return Mappings(mappings=found)


@router.delete(
    "/directories/{directory_id}/mappings/{name}",
    status_code=204,
    summary="Remove a mapping (the IdP profile's default applies again)",
)
async def remove_mapping(request: Request, directory_id: str, name: str) -> Response:
    removed = await run_in_threadpool(
        attribute_mappings.remove_mapping, request.app.state.engine, directory_id, name
    )
    if not removed:
        raise NotFoundException(detail=f"No mapping {name!r} in directory {directory_id}")
    return Response(status_code=204)
