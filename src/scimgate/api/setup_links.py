"""Setup links over the management API: create one for an organization, list them, revoke one.

A link's URL (which holds its secret) is in the answer that creates it and in
no later answer.
"""

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from scimgate.api.engine import EngineDep
from scimgate.api.management import note_target, require_admin
from scimgate.api.public_root import public_root
from scimgate.service.administration import setup_links
from scimgate.store.ids import utcnow
from scimgate.store.setup_links import SetupLink as StoredLink

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_admin)])


class SetupLinkIn(BaseModel):
    valid_days: Annotated[float, Field(gt=0, le=30)] = Field(
        7, description="How long the link may be opened, in days (at most 30)"
    )
    directory_id: str | None = Field(
        None,
        description="An existing directory of the organization; else the IT admin makes one",
    )


class SetupLink(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    organization_id: str
    directory_id: str | None
    created_at: datetime
    expires_at: datetime
    opened_at: datetime | None
    token_revealed_at: datetime | None
    revoked_at: datetime | None
    state: str = Field(description="unopened, open, expired or revoked")


class IssuedSetupLink(BaseModel):
    link: SetupLink
    url: str = Field(description="The link to send to the IT admin; shown in this answer only")


class SetupLinks(BaseModel):
    data: list[SetupLink]


def _out(link: StoredLink) -> SetupLink:
    return SetupLink.model_validate({**vars(link), "state": setup_links.state(link, utcnow())})


@router.post(
    "/organizations/{organization_id}/setup-links",
    status_code=201,
    summary="Create a setup link for an organization's IT admin; its URL is in this answer only",
)
def create_setup_link(
    request: Request, engine: EngineDep, organization_id: str, body: SetupLinkIn
) -> IssuedSetupLink:
    issued = setup_links.create_link(
        engine,
        organization_id,
        directory_id=body.directory_id,
        valid_for=timedelta(days=body.valid_days),
    )
    note_target(request, "setup_link", issued.link.id, organization_id=organization_id)
    return IssuedSetupLink(link=_out(issued.link), url=issued.url(public_root(request)))


@router.get("/organizations/{organization_id}/setup-links", summary="An organization's setup links")
def list_setup_links(engine: EngineDep, organization_id: str) -> SetupLinks:
    return SetupLinks(data=[_out(link) for link in setup_links.list_links(engine, organization_id)])


@router.post(
    "/setup-links/{setup_link_id}/revoke",
    summary="Revoke a setup link: the IT admin's browser loses access at once",
)
def revoke_setup_link(engine: EngineDep, setup_link_id: str) -> SetupLink:
    return _out(setup_links.revoke_link(engine, setup_link_id))
