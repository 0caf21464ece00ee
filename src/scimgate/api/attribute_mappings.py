"""A directory's attribute mappings over the management API: read, set, remove one."""

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field, StringConstraints

from scimgate.api.engine import EngineDep
from scimgate.api.management import require_admin
from scimgate.api.shapes import removal
from scimgate.service.administration import attribute_mappings

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_admin)])


class MappingIn(BaseModel):
    path: Annotated[str, StringConstraints(min_length=1, max_length=512)]


class Mappings(BaseModel):
    mappings: dict[str, str] = Field(description="Custom attribute name -> SCIM path")


@router.get("/directories/{directory_id}/mappings", summary="Effective attribute mappings")
def get_mappings(engine: EngineDep, directory_id: str) -> Mappings:
    return Mappings(mappings=attribute_mappings.effective_mappings(engine, directory_id))


@router.put("/directories/{directory_id}/mappings/{name}", summary="Map a custom attribute")
def set_mapping(engine: EngineDep, directory_id: str, name: str, body: MappingIn) -> Mappings:
    attribute_mappings.set_mapping(engine, directory_id, name, body.path)
    return Mappings(mappings=attribute_mappings.effective_mappings(engine, directory_id))


@router.delete(
    "/directories/{directory_id}/mappings/{name}",
    status_code=204,
    summary="Remove a mapping (the IdP profile's default applies again)",
)
def remove_mapping(engine: EngineDep, directory_id: str, name: str) -> Response:
    removed = attribute_mappings.remove_mapping(engine, directory_id, name)
    return removal(removed, f"No mapping {name!r} in directory {directory_id}")
