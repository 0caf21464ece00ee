"""A directory's SCIM tokens over the management API: create, rotate, list, revoke.

A token's secret is in the answer that creates it and in no later answer.
Rotating creates a new token and changes nothing else: the old one stays valid
until it is revoked.
"""

from datetime import datetime

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from scimgate.api.engine import EngineDep
from scimgate.api.management import note_target, require_admin
from scimgate.api.shapes import Listing, Name, Record, listing, removal
from scimgate.service.administration import tenants
from scimgate.store.ids import utcnow

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_admin)])


class TokenIn(BaseModel):
    name: Name


class Token(Record):
    id: str
    directory_id: str
    name: str
    hint: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class IssuedToken(BaseModel):
    token: Token
    secret: str = Field(description="The bearer token; shown in this answer only")


def issued_token(token: tenants.IssuedToken) -> IssuedToken:
    return IssuedToken(token=Token.model_validate(token.record), secret=token.secret)


@router.post(
    "/directories/{directory_id}/tokens",
    status_code=201,
    summary="Create a SCIM token; its secret is in this answer only",
)
def create_token(
    request: Request, engine: EngineDep, directory_id: str, body: TokenIn
) -> IssuedToken:
    return _new_token(request, engine, directory_id, body.name)


@router.post(
    "/directories/{directory_id}/tokens/rotate",
    status_code=201,
    summary="Rotate: create a new SCIM token; the old ones stay valid until revoked",
)
def rotate_token(request: Request, engine: EngineDep, directory_id: str) -> IssuedToken:
    return _new_token(request, engine, directory_id, f"rotated {utcnow().date()}")


def _new_token(request: Request, engine: Engine, directory_id: str, name: str) -> IssuedToken:
    issued = tenants.create_token(engine, directory_id, name)
    note_target(request, "token", issued.record.id)
    return issued_token(issued)


@router.get("/directories/{directory_id}/tokens", summary="List a directory's SCIM tokens")
def list_tokens(engine: EngineDep, directory_id: str) -> Listing[Token]:
    return listing(Token, tenants.list_tokens(engine, directory_id))


@router.post(
    "/directories/{directory_id}/tokens/{token_id}/revoke",
    status_code=204,
    summary="Revoke a SCIM token",
)
def revoke_token(engine: EngineDep, directory_id: str, token_id: str) -> Response:
    revoked = tenants.revoke_token(engine, directory_id, token_id)
    return removal(revoked, f"No active token {token_id} in directory {directory_id}")
