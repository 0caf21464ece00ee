"""Finding the directory user behind a login, so JIT and SCIM never create the same user twice."""

from collections.abc import Callable
from dataclasses import asdict

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from scim2_models import NotFoundException
from sqlalchemy import Engine

from scimgate.api.engine import EngineDep
from scimgate.api.management import json_response, require_admin
from scimgate.api.public_root import public_root
from scimgate.service.administration.lookup import (
    LoginClaims,
    UserMatch,
    find_in_directory,
    find_in_organization,
)

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_admin)])

Finder = Callable[[Engine, str, LoginClaims, str], UserMatch | None]


@router.get("/directories/{directory_id}/users/lookup")
def lookup_in_directory(
    request: Request,
    engine: EngineDep,
    directory_id: str,
    external_id: str | None = None,
    subject: str | None = None,
    email: str | None = None,
) -> JSONResponse:
    """The directory's user with this externalId, else userName, else e-mail address."""
    claims = LoginClaims(external_id=external_id, subject=subject, email=email)
    return _lookup(request, engine, find_in_directory, "directory", directory_id, claims)


@router.get("/organizations/{organization_id}/users/lookup")
def lookup_in_organization(
    request: Request,
    engine: EngineDep,
    organization_id: str,
    external_id: str | None = None,
    subject: str | None = None,
    email: str | None = None,
) -> JSONResponse:
    """The same lookup across every directory of an organization."""
    claims = LoginClaims(external_id=external_id, subject=subject, email=email)
    return _lookup(request, engine, find_in_organization, "organization", organization_id, claims)


def _lookup(
    request: Request,
    engine: Engine,
    finder: Finder,
    noun: str,
    owner_id: str,
    claims: LoginClaims,
) -> JSONResponse:
    found = finder(engine, owner_id, claims, public_root(request))
    if found is None:
        # The client tells this 404 from an unknown directory's by how the detail begins.
        raise NotFoundException(detail=f"No user of {noun} {owner_id} matches the login")
    return json_response(
        {"directory_id": found.directory_id, "matched": found.matched, "user": asdict(found.user)}
    )
