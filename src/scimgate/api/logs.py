"""The provisioning log over HTTP: every SCIM request of a directory, with a diagnosis."""

from fastapi import APIRouter, Depends

from scimgate.api.management import require_admin

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_admin)])
