"""Admin keys over the management API: create, list, revoke.

A key's secret is in the answer that creates it and in no later answer.
"""

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from scimgate.api.engine import EngineDep
from scimgate.api.management import note_target, require_admin
from scimgate.api.shapes import Listing, Name, Record, listing, removal
from scimgate.service.administration import admin_keys

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_admin)])


class KeyIn(BaseModel):
    name: Name
    scope: Literal["read", "write"]


class AdminKey(Record):
    id: str
    name: str
    hint: str
    scope: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class IssuedKey(BaseModel):
    key: AdminKey
    secret: str = Field(description="The admin key; shown in this answer only")


@router.post(
    "/keys", status_code=201, summary="Create an admin key; its secret is in this answer only"
)
def create_key(request: Request, engine: EngineDep, body: KeyIn) -> IssuedKey:
    issued = admin_keys.create_key(engine, body.name, body.scope)
    note_target(request, "key", issued.record.id, detail=f"scope {body.scope}")
    return IssuedKey(key=AdminKey.model_validate(issued.record), secret=issued.secret)


@router.get("/keys", summary="List admin keys (never their secrets)")
def list_keys(engine: EngineDep) -> Listing[AdminKey]:
    return listing(AdminKey, admin_keys.list_keys(engine))


@router.post("/keys/{key_id}/revoke", status_code=204, summary="Revoke an admin key")
def revoke_key(engine: EngineDep, key_id: str) -> Response:
    return removal(admin_keys.revoke_key(engine, key_id), f"No active admin key {key_id}")
