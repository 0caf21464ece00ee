"""The audit log over the management API, newest first."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, Field
from scim2_models import InvalidValueException

from scimgate.api.engine import EngineDep
from scimgate.api.management import require_admin
from scimgate.api.shapes import Record
from scimgate.service.administration import audit
from scimgate.store.audit import AuditQuery

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_admin)])


class AuditEntry(Record):
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


@router.get("/audit", summary="The audit log, newest first")
def list_audit(
    engine: EngineDep,
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
    page = audit.entries(engine, query)
    return AuditPage(
        data=[AuditEntry.model_validate(entry) for entry in page.entries],
        next_before=page.next_before,
    )
