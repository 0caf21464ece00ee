"""Organizations over the management API: create, list, and read one with its directories."""

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from scimgate.api.directories import DirectoryOut, directory_out
from scimgate.api.engine import EngineDep
from scimgate.api.management import note_target, require_admin
from scimgate.api.public_root import public_root
from scimgate.api.shapes import Listing, Name, Record, listing
from scimgate.service.administration import tenants

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
def create_organization(request: Request, engine: EngineDep, body: OrganizationIn) -> Organization:
    created = tenants.create_organization(engine, body.name)
    note_target(request, "organization", created.id, organization_id=created.id)
    return Organization.model_validate(created)


@router.get("/organizations", summary="List organizations")
def list_organizations(engine: EngineDep) -> Listing[Organization]:
    found = tenants.list_organizations(engine)
    return listing(Organization, found)


@router.get("/organizations/{organization_id}", summary="An organization with its directories")
def get_organization(
    request: Request, engine: EngineDep, organization_id: str
) -> OrganizationDetail:
    organization, directories = tenants.organization_with_directories(engine, organization_id)
    return OrganizationDetail(
        **Organization.model_validate(organization).model_dump(),
        directories=[directory_out(directory, public_root(request)) for directory in directories],
    )
