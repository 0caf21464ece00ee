"""A directory's SCIM tokens over the management API: create, rotate, list, revoke.

A token's secret is in the answer that creates it and in no later answer.
Rotating creates a new token and changes nothing else: the old one stays valid
until it is revoked.
"""

from datetime import datetime

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from scim2_models import NotFoundException
from starlette.concurrency import run_in_threadpool

from scimgate.api.management import note_target, require_admin
from scimgate.api.shapes import Listing, Name, Record
from scimgate.service import tenants
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
async def create_token(request: Request, directory_id: str, body: TokenIn) -> IssuedToken:
    return await _new_token(request, directory_id, body.name)


@router.post(
    "/directories/{directory_id}/tokens/rotate",
    status_code=201,
    summary="Rotate: create a new SCIM token; the old ones stay valid until revoked",
)
async def rotate_token(request: Request, directory_id: str) -> IssuedToken:
    return await _new_token(request, directory_id, f"rotated {utcnow().date()}")


async def _new_token(request: Request, directory_id: str, name: str) -> IssuedToken:
    issued = await run_in_threadpool(
        tenants.create_token, request.app.state.engine, directory_id, name
    )
    note_target(request, "token", issued.record.id)
    return issued_token(issued)


@router.get("/directories/{directory_id}/tokens", summary="List a directory's SCIM tokens")
async def list_tokens(request: Request, directory_id: str) -> Listing[Token]:
    found = await run_in_threadpool(tenants.list_tokens, request.app.state.engine, directory_id)
    return Listing[Token](data=[Token.model_validate(token) for token in found])


@router.post(
    "/directories/{directory_id}/tokens/{token_id}/revoke",
    status_code=204,
    summary="Revoke a SCIM token",
)
async def revoke_token(request: Request, directory_id: str, token_id: str) -> Response:
    revoked = await run_in_threadpool(
        tenants.revoke_token, request.app.state.engine, directory_id, token_id
    )
    if not revoked:
        raise NotFoundException(detail=f"No active token {token_id} in directory {directory_id}")
    return Response(status_code=204)
