"""Administering scimgate over HTTP: organizations, directories, tokens, mappings, keys, audit.

Secrets (a directory's SCIM token, an admin key) are in the answer that creates
them and in no later answer. Rotating a SCIM token creates a new one and
changes nothing else: the old token stays valid until it is revoked.
"""

from datetime import UTC, datetime
from typing import Annotated, Generic, Literal, TypeVar

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints
from scim2_models import InvalidValueException, NotFoundException
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from scimgate.api.management import note_target, require_admin
from scimgate.scim.idp import IdpProfile
from scimgate.service import admin_keys, attribute_mappings, audit, safety, tenants
from scimgate.service import roles as role_mapping
from scimgate.service.directory_summary import directory_summary
from scimgate.store.audit import AuditQuery
from scimgate.store.ids import utcnow
from scimgate.store.tenants import Directory

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_admin)])

Name = Annotated[
    str,
    StringConstraints(
        min_length=1,
        max_length=200,
        pattern=r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$",
    ),
]
"""A display name: 1 to 200 characters, not blank, no control characters."""

T = TypeVar("T")


class _Record(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Listing(BaseModel, Generic[T]):
    data: list[T]


class OrganizationIn(BaseModel):
    name: Name


class Organization(_Record):
    id: str
    name: str
    created_at: datetime


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
    idp_detected: str | None
    activated_at: datetime | None
    delivery: str = Field(description="live, held (safety valve tripped) or review (dry run)")
    held_since: datetime | None
    safety: SafetyValve
    assignment_group: str | None = Field(description="The assignment group's id, if any")
    scim_base_url: str


class DirectoryDetail(DirectoryOut):
    users: int
    groups: int
    last_request_at: datetime | None = Field(
        description="When a SCIM token was last used, to the minute"
    )


class OrganizationDetail(Organization):
    directories: list[DirectoryOut]


class TokenIn(BaseModel):
    name: Name


class Token(_Record):
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


class NewDirectory(BaseModel):
    directory: DirectoryOut
    token: IssuedToken


class MappingIn(BaseModel):
    path: Annotated[str, StringConstraints(min_length=1, max_length=512)]


class Mappings(BaseModel):
    mappings: dict[str, str] = Field(description="Custom attribute name -> SCIM path")


class RoleRuleIn(BaseModel):
    kind: Literal["group_name", "group_external_id", "default"]
    match: str = Field("", max_length=512)
    role: str = Field(min_length=1, max_length=64)
    priority: int = Field(100, ge=-1_000_000, le=1_000_000)


class RoleRule(_Record):
    id: str
    kind: str
    match: str
    role: str
    priority: int


class KeyIn(BaseModel):
    name: Name
    scope: Literal["read", "write"]


class AdminKey(_Record):
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


class AuditEntry(_Record):
    id: str
    at: datetime
    actor: str
    action: str
    target_type: str | None
    target_id: str | None
    organization_id: str | None
    outcome: str
    detail: str | None
    count: int = Field(description="Requests the entry stands for: refused credentials coalesce")
    client: str | None = Field(description="The client address of refused credentials")


class AuditPage(BaseModel):
    data: list[AuditEntry]
    next_before: int | None = Field(description="Pass as 'before' for older entries")


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _root(request: Request) -> str:
    root: str = request.app.state.settings.public_url or str(request.base_url)
    return root.rstrip("/")


def _directory(directory: Directory, root: str) -> DirectoryOut:
    return DirectoryOut(
        id=directory.id,
        organization_id=directory.organization_id,
        name=directory.name,
        created_at=directory.created_at,
        idp=directory.idp,
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
        scim_base_url=f"{root}/scim/v2/{directory.id}",
    )


def _issued(token: tenants.IssuedToken) -> IssuedToken:
    return IssuedToken(token=Token.model_validate(token.record), secret=token.secret)


def _no_directory(directory_id: str) -> NotFoundException:
    return NotFoundException(detail=f"No directory {directory_id}")


# Organizations and directories


@router.post("/organizations", status_code=201, summary="Create an organization")
async def create_organization(request: Request, body: OrganizationIn) -> Organization:
    created = await run_in_threadpool(tenants.create_organization, _engine(request), body.name)
    note_target(request, "organization", created.id, organization_id=created.id)
    return Organization.model_validate(created)


@router.get("/organizations", summary="List organizations")
async def list_organizations(request: Request) -> Listing[Organization]:
    found = await run_in_threadpool(tenants.list_organizations, _engine(request))
    return Listing[Organization](data=[Organization.model_validate(org) for org in found])


@router.get("/organizations/{organization_id}", summary="An organization with its directories")
async def get_organization(request: Request, organization_id: str) -> OrganizationDetail:
    organization, directories = await run_in_threadpool(
        tenants.organization_with_directories, _engine(request), organization_id
    )
    return OrganizationDetail(
        **Organization.model_validate(organization).model_dump(),
        directories=[_directory(directory, _root(request)) for directory in directories],
    )


@router.post(
    "/organizations/{organization_id}/directories",
    status_code=201,
    summary="Create a directory; its SCIM base URL and first token are in this answer only",
)
async def create_directory(
    request: Request, organization_id: str, body: DirectoryIn
) -> NewDirectory:
    created = await run_in_threadpool(
        tenants.create_directory,
        _engine(request),
        organization_id,
        body.name,
        body.idp,
        dry_run=body.dry_run,
    )
    note_target(request, "directory", created.directory.id, organization_id=organization_id)
    return NewDirectory(
        directory=_directory(created.directory, _root(request)), token=_issued(created.token)
    )


@router.get("/directories", summary="List directories")
async def list_directories(request: Request) -> Listing[DirectoryOut]:
    found = await run_in_threadpool(tenants.list_directories, _engine(request))
    return Listing[DirectoryOut](data=[_directory(d, _root(request)) for d in found])


@router.get(
    "/directories/{directory_id}",
    summary="A directory: settings, delivery state, counts of users and groups",
)
async def get_directory(request: Request, directory_id: str) -> DirectoryDetail:
    return await _detail(request, directory_id)


@router.patch("/directories/{directory_id}", summary="Set or clear the assignment group")
async def update_directory(
    request: Request, directory_id: str, body: DirectoryPatch
) -> DirectoryDetail:
    engine = _engine(request)
    await run_in_threadpool(
        safety.set_assignment_group, engine, directory_id, body.assignment_group
    )
    return await _detail(request, directory_id)


async def _detail(request: Request, directory_id: str) -> DirectoryDetail:
    summary = await run_in_threadpool(directory_summary, _engine(request), directory_id)
    return DirectoryDetail(
        **_directory(summary.directory, _root(request)).model_dump(),
        users=summary.users,
        groups=summary.groups,
        last_request_at=summary.last_request_at,
    )


# SCIM tokens


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
    issued = await run_in_threadpool(tenants.create_token, _engine(request), directory_id, name)
    note_target(request, "token", issued.record.id)
    return _issued(issued)


@router.get("/directories/{directory_id}/tokens", summary="List a directory's SCIM tokens")
async def list_tokens(request: Request, directory_id: str) -> Listing[Token]:
    found = await run_in_threadpool(tenants.list_tokens, _engine(request), directory_id)
    return Listing[Token](data=[Token.model_validate(token) for token in found])


@router.post(
    "/directories/{directory_id}/tokens/{token_id}/revoke",
    status_code=204,
    summary="Revoke a SCIM token",
)
async def revoke_token(request: Request, directory_id: str, token_id: str) -> Response:
    revoked = await run_in_threadpool(
        tenants.revoke_token, _engine(request), directory_id, token_id
    )
    if not revoked:
        raise NotFoundException(detail=f"No active token {token_id} in directory {directory_id}")
    return Response(status_code=204)


# Attribute mappings


@router.get("/directories/{directory_id}/mappings", summary="Effective attribute mappings")
async def get_mappings(request: Request, directory_id: str) -> Mappings:
    found = await run_in_threadpool(
        attribute_mappings.effective_mappings, _engine(request), directory_id
    )
    return Mappings(mappings=found)


@router.put("/directories/{directory_id}/mappings/{name}", summary="Map a custom attribute")
async def set_mapping(request: Request, directory_id: str, name: str, body: MappingIn) -> Mappings:
    engine = _engine(request)
    await run_in_threadpool(attribute_mappings.set_mapping, engine, directory_id, name, body.path)
    found = await run_in_threadpool(attribute_mappings.effective_mappings, engine, directory_id)
    return Mappings(mappings=found)


@router.delete(
    "/directories/{directory_id}/mappings/{name}",
    status_code=204,
    summary="Remove a mapping (the IdP profile's default applies again)",
)
async def remove_mapping(request: Request, directory_id: str, name: str) -> Response:
    removed = await run_in_threadpool(
        attribute_mappings.remove_mapping, _engine(request), directory_id, name
    )
    if not removed:
        raise NotFoundException(detail=f"No mapping {name!r} in directory {directory_id}")
    return Response(status_code=204)


# Role rules


@router.get("/directories/{directory_id}/roles", summary="List role rules")
async def list_rules(request: Request, directory_id: str) -> Listing[RoleRule]:
    found = await run_in_threadpool(role_mapping.list_rules, _engine(request), directory_id)
    return Listing[RoleRule](data=[RoleRule.model_validate(rule) for rule in found])


@router.post(
    "/directories/{directory_id}/roles",
    status_code=201,
    summary="Add a role rule (a default rule replaces the previous one)",
)
async def add_rule(request: Request, directory_id: str, body: RoleRuleIn) -> RoleRule:
    rule = await run_in_threadpool(
        role_mapping.add_rule,
        _engine(request),
        directory_id,
        body.kind,
        body.match,
        body.role,
        body.priority,
    )
    note_target(request, "role", rule.id)
    return RoleRule.model_validate(rule)


@router.delete(
    "/directories/{directory_id}/roles/{rule_id}", status_code=204, summary="Remove a role rule"
)
async def remove_rule(request: Request, directory_id: str, rule_id: str) -> Response:
    removed = await run_in_threadpool(
        role_mapping.remove_rule, _engine(request), directory_id, rule_id
    )
    if not removed:
        raise NotFoundException(detail=f"No role rule {rule_id} in directory {directory_id}")
    return Response(status_code=204)


# Admin keys


@router.post(
    "/keys", status_code=201, summary="Create an admin key; its secret is in this answer only"
)
async def create_key(request: Request, body: KeyIn) -> IssuedKey:
    issued = await run_in_threadpool(admin_keys.create_key, _engine(request), body.name, body.scope)
    note_target(request, "key", issued.record.id, detail=f"scope {body.scope}")
    return IssuedKey(key=AdminKey.model_validate(issued.record), secret=issued.secret)


@router.get("/keys", summary="List admin keys (never their secrets)")
async def list_keys(request: Request) -> Listing[AdminKey]:
    found = await run_in_threadpool(admin_keys.list_keys, _engine(request))
    return Listing[AdminKey](data=[AdminKey.model_validate(key) for key in found])


@router.post("/keys/{key_id}/revoke", status_code=204, summary="Revoke an admin key")
async def revoke_key(request: Request, key_id: str) -> Response:
    if not await run_in_threadpool(admin_keys.revoke_key, _engine(request), key_id):
        raise NotFoundException(detail=f"No active admin key {key_id}")
    return Response(status_code=204)


# Audit log


@router.get("/audit", summary="The audit log, newest first")
async def list_audit(
    request: Request,
    since: AwareDatetime | None = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    organization_id: Annotated[str | None, Query(max_length=36)] = None,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    try:
        utc_since = since.astimezone(UTC) if since is not None else None
    except OverflowError:
        raise InvalidValueException(detail="since: out of range") from None
    query = AuditQuery(
        since=utc_since, actor=actor, organization_id=organization_id, before=before, limit=limit
    )
    page = await run_in_threadpool(audit.entries, _engine(request), query)
    return AuditPage(
        data=[AuditEntry.model_validate(entry) for entry in page.entries],
        next_before=page.next_before,
    )
