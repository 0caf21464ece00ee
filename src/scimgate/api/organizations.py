"""Organizations over the management API: create, list, and read one with its directories."""

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from scimgate.api.directories import DirectoryOut, directory_out, public_root
from scimgate.api.management import note_target, require_admin
from scimgate.api.shapes import Listing, Name, Record
from scimgate.service import tenants

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_admin)])


class OrganizationIn(BaseModel):
    name: Name


class Organization(Record):
    id: str
    name: str
    created_at: datetime


class OrganizationDetail(Organization):
    directories: list[DirectoryOut]


@router.post("/organizations", status_code=201, summary="Create an organization")
async def create_organization(request: Request, body: OrganizationIn) -> Organization:
    created = await run_in_threadpool(
        tenants.create_organization, request.app.state.engine, body.name
    )
    note_target(request, "organization", created.id, organization_id=created.id)
    return Organization.model_validate(created)


@router.get("/organizations", summary="List organizations")
async def list_organizations(request: Request) -> Listing[Organization]:
    found = await run_in_threadpool(tenants.list_organizations, request.app.state.engine)
    return Listing[Organization](data=[Organization.model_validate(org) for org in found])


@router.get("/organizations/{organization_id}", summary="An organization with its directories")
async def get_organization(request: Request, organization_id: str) -> OrganizationDetail:
    organization, directories = await run_in_threadpool(
        tenants.organization_with_directories, request.app.state.engine, organization_id
    )
    return OrganizationDetail(
        **Organization.model_validate(organization).model_dump(),
        directories=[directory_out(directory, public_root(request)) for directory in directories],
    )
