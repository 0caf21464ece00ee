"""A directory's role rules over the management API: list, add, remove one."""

from typing import Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from scimgate.api.engine import EngineDep
from scimgate.api.management import note_target, require_admin
from scimgate.api.shapes import Listing, Record, listing, removal
from scimgate.service.administration import roles

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_admin)])


class RoleRuleIn(BaseModel):
    kind: Literal["group_name", "group_external_id", "default"]
    match: str = Field("", max_length=512)
    role: str = Field(min_length=1, max_length=64)
    priority: int = Field(100, ge=-1_000_000, le=1_000_000)


class RoleRule(Record):
    id: str
    kind: str
    match: str
    role: str
    priority: int


@router.get("/directories/{directory_id}/roles", summary="List role rules")
def list_rules(engine: EngineDep, directory_id: str) -> Listing[RoleRule]:
    return listing(RoleRule, roles.list_rules(engine, directory_id))


@router.post(
    "/directories/{directory_id}/roles",
    status_code=201,
    summary="Add a role rule (a default rule replaces the previous one)",
)
def add_rule(request: Request, engine: EngineDep, directory_id: str, body: RoleRuleIn) -> RoleRule:
    rule = roles.add_rule(engine, directory_id, body.kind, body.match, body.role, body.priority)
    note_target(request, "role", rule.id)
    return RoleRule.model_validate(rule)


@router.delete(
    "/directories/{directory_id}/roles/{rule_id}", status_code=204, summary="Remove a role rule"
)
def remove_rule(engine: EngineDep, directory_id: str, rule_id: str) -> Response:
    removed = roles.remove_rule(engine, directory_id, rule_id)
    return removal(removed, f"No role rule {rule_id} in directory {directory_id}")
