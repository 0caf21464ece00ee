"""A directory's OAuth 2.0 clients over the management API: create, rotate, list, revoke.

A client's secret is in the answer that creates it and in the answer of each
rotation, never later. Rotating gives the client a new secret at once: the old
secret, and every access token obtained with it, stop working.
"""

from datetime import datetime

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from scim2_models import NotFoundException

from scimgate.api.engine import EngineDep
from scimgate.api.management import note_target, require_admin
from scimgate.api.public_root import public_root
from scimgate.api.shapes import Listing, Name, Record, listing, removal
from scimgate.service.administration import oauth_clients

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_admin)])


class OAuthClientIn(BaseModel):
    name: Name


class OAuthClient(Record):
    id: str = Field(description="The client's client_id")
    directory_id: str
    name: str
    hint: str = Field(description="The start of its current secret")
    created_at: datetime
    rotated_at: datetime | None
    revoked_at: datetime | None


class IssuedOAuthClient(BaseModel):
    client: OAuthClient
    client_id: str
    client_secret: str = Field(description="The client's secret; shown in this answer only")
    token_endpoint: str = Field(description="Where the client obtains access tokens")


def _issued(request: Request, issued: oauth_clients.IssuedClient) -> IssuedOAuthClient:
    note_target(request, "oauth_client", issued.client.id)
    return IssuedOAuthClient(
        client=OAuthClient.model_validate(issued.client),
        client_id=issued.client.id,
        client_secret=issued.secret,
        token_endpoint=f"{public_root(request)}/oauth/token",
    )


@router.post(
    "/directories/{directory_id}/oauth-clients",
    status_code=201,
    summary="Create an OAuth client (client credentials); its secret is in this answer only",
)
def create_client(
    request: Request, engine: EngineDep, directory_id: str, body: OAuthClientIn
) -> IssuedOAuthClient:
    return _issued(request, oauth_clients.create_client(engine, directory_id, body.name))


@router.get("/directories/{directory_id}/oauth-clients", summary="List a directory's OAuth clients")
def list_clients(engine: EngineDep, directory_id: str) -> Listing[OAuthClient]:
    return listing(OAuthClient, oauth_clients.list_clients(engine, directory_id))


@router.post(
    "/directories/{directory_id}/oauth-clients/{client_id}/rotate",
    status_code=201,
    summary="Give an OAuth client a new secret; the old one and its access tokens stop working",
)
def rotate_client(
    request: Request, engine: EngineDep, directory_id: str, client_id: str
) -> IssuedOAuthClient:
    issued = oauth_clients.rotate_secret(engine, directory_id, client_id)
    if issued is None:
        missing = f"No active OAuth client {client_id} in directory {directory_id}"
        raise NotFoundException(detail=missing)
    return _issued(request, issued)


@router.post(
    "/directories/{directory_id}/oauth-clients/{client_id}/revoke",
    status_code=204,
    summary="Revoke an OAuth client and every access token it holds",
)
def revoke_client(engine: EngineDep, directory_id: str, client_id: str) -> Response:
    revoked = oauth_clients.revoke_client(engine, directory_id, client_id)
    return removal(revoked, f"No active OAuth client {client_id} in directory {directory_id}")
