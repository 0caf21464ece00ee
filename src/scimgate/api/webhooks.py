"""Webhook endpoints, their secrets, deliveries and attempts (management API)."""

from fastapi import APIRouter, Depends

from scimgate.api.management import require_admin

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_admin)])
