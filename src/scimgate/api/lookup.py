"""Finding the directory user behind a login, so JIT and SCIM never create the same user twice."""

from fastapi import APIRouter, Depends

from scimgate.api.management import require_admin

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_admin)])
