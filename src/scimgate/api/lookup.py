"""Finding the directory user behind a login, so JIT provisioning and SCIM never duplicate a user."""

from fastapi import APIRouter, Depends

from scimgate.api.management import require_admin

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_admin)])
