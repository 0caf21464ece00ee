"""Directories over the management API: create one in an organization, list, read, update.

A new directory's SCIM base URL and first token are in the answer that creates it.
"""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import Engine

from scimgate.api.engine import EngineDep
from scimgate.api.management import note_target, require_admin
from scimgate.api.public_root import public_root
from scimgate.api.shapes import Listing, Name
from scimgate.api.tokens import IssuedToken, issued_token
from scimgate.scim.idp import IdpProfile
from scimgate.service.administration import tenants
from scimgate.service.directories import PULLED
from scimgate.service.event_stream import safety
from scimgate.service.portal.directory_summary import directory_summary
from scimgate.store.tenants import Directory

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_admin)])


class DirectoryIn(BaseModel):
    name: Name
    idp: IdpProfile = IdpProfile.generic
    dry_run: bool = Field(False, description="Hold every event until the first sync is reviewed")


class DirectoryPatch(BaseModel):
    assignment_group: Annotated[str, StringConstraints(min_length=1, max_length=512)] | None = (
        Field(description="Display name of the group whose members are the app's users; null: none")
    )


class SafetyValve(BaseModel):
    max_count: int
    max_percent: int
    window_minutes: int


class DirectoryOut(BaseModel):
    id: str
    organization_id: str
    name: str
    created_at: datetime
    idp: str
    kind: str = Field(description="scim: its IdP pushes; google: pulled from Google Workspace")
    idp_detected: str | None
    activated_at: datetime | None
    delivery: str = Field(description="live, held (safety valve tripped) or review (dry run)")
    held_since: datetime | None
    safety: SafetyValve
    assignment_group: str | None = Field(description="The assignment group's id, if any")
    scim_base_url: str | None = Field(description="Where its IdP pushes; null when pulled")


class DirectoryDetail(DirectoryOut):
    users: int
    groups: int
    last_request_at: datetime | None = Field(
        description="When a SCIM token was last used, to the minute"
    )


class NewDirectory(BaseModel):
    directory: DirectoryOut
    token: IssuedToken


def directory_out(directory: Directory, root: str) -> DirectoryOut:
    return DirectoryOut(
        id=directory.id,
        organization_id=directory.organization_id,
        name=directory.name,
        created_at=directory.created_at,
        idp=directory.idp,
        kind=directory.kind,
        idp_detected=directory.idp_detected,
        activated_at=directory.activated_at,
        delivery=directory.delivery,
        held_since=directory.held_since,
        safety=SafetyValve(
            max_count=directory.safety_max_count,
            max_percent=directory.safety_max_percent,
            window_minutes=directory.safety_window_minutes,
        ),
        assignment_group=directory.assignment_group,
        scim_base_url=None if directory.kind == PULLED else f"{root}/scim/v2/{directory.id}",
    )


@router.post(
    "/organizations/{organization_id}/directories",
    status_code=201,
    summary="Create a directory; its SCIM base URL and first token are in this answer only",
)
def create_directory(
    request: Request, engine: EngineDep, organization_id: str, body: DirectoryIn
) -> NewDirectory:
    created = tenants.create_directory(
        engine, organization_id, body.name, body.idp, dry_run=body.dry_run
    )
    note_target(request, "directory", created.directory.id, organization_id=organization_id)
    return NewDirectory(
        directory=directory_out(created.directory, public_root(request)),
        token=issued_token(created.token),
    )


@router.get("/directories", summary="List directories")
def list_directories(request: Request, engine: EngineDep) -> Listing[DirectoryOut]:
    found = tenants.list_directories(engine)
    return Listing[DirectoryOut](data=[directory_out(d, public_root(request)) for d in found])


@router.get(
    "/directories/{directory_id}",
    summary="A directory: settings, delivery state, counts of users and groups",
)
def get_directory(request: Request, engine: EngineDep, directory_id: str) -> DirectoryDetail:
    return _detail(request, engine, directory_id)


@router.patch("/directories/{directory_id}", summary="Set or clear the assignment group")
def update_directory(
    request: Request, engine: EngineDep, directory_id: str, body: DirectoryPatch
) -> DirectoryDetail:
    safety.set_assignment_group(engine, directory_id, body.assignment_group)
    return _detail(request, engine, directory_id)


def _detail(request: Request, engine: Engine, directory_id: str) -> DirectoryDetail:
    summary = directory_summary(engine, directory_id)
    return DirectoryDetail(
        **directory_out(summary.directory, public_root(request)).model_dump(),
        users=summary.users,
        groups=summary.groups,
        last_request_at=summary.last_request_at,
    )
