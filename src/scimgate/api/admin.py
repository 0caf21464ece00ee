"""Administering scimgate over HTTP: organizations, directories, tokens, mappings, keys, audit."""

from fastapi import APIRouter, Depends

from scimgate.api.management import require_admin

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_admin)])
