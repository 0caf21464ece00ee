"""The dashboard and the organization pages: every tenant's health, new directories, setup links.

A new directory's first token and a new setup link's address are secrets:
they are in the page that answers the form creating them, and in no other.
"""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from scimgate.admin.guard import admin_guard
from scimgate.admin.web import PortalError, render
from scimgate.api.engine import EngineDep
from scimgate.api.public_root import public_root
from scimgate.scim.idp import IdpProfile
from scimgate.service.administration import setup_links, tenants
from scimgate.service.event_stream import endpoint_health
from scimgate.service.portal import dashboard

router = APIRouter(
    prefix="/admin", include_in_schema=False, dependencies=[Depends(admin_guard, scope="function")]
)

NAME_LIMIT = 200


def _name(text: str, what: str) -> str:
    """A display name from a form: trimmed, 1 to 200 characters, no control characters."""
    name = text.strip()
    if not name or len(name) > NAME_LIMIT or not name.isprintable():
        raise PortalError(
            422, f"The {what}'s name must be 1 to {NAME_LIMIT} characters, without line breaks."
        )
    return name


PAGE_SIZE = 25


@router.get("/")
def dashboard_page(
    request: Request,
    engine: EngineDep,
    q: str = "",
    start: Annotated[int, Query(ge=1, le=2**62)] = 1,
) -> Response:
    found = dashboard.overview(engine, q, start, PAGE_SIZE)
    return render(
        request,
        "dashboard/index.html",
        {
            "nav": "dashboard",
            "page": found.organizations,
            "q": found.query,
            "base": "/admin/",
            "failing_endpoints": endpoint_health.failing_endpoints(engine),
        },
    )


@router.post("/organizations")
def create_organization(
    engine: EngineDep, name: Annotated[str, Form(max_length=1000)] = ""
) -> Response:
    created = tenants.create_organization(engine, _name(name, "organization"))
    return RedirectResponse(f"/admin/organizations/{created.id}", status_code=303)


@router.get("/organizations/{organization_id}")
def organization_page(request: Request, engine: EngineDep, organization_id: str) -> Response:
    page = dashboard.organization_page(engine, organization_id)
    return render(
        request,
        "organization/show.html",
        {
            "nav": "dashboard",
            "page": page,
            "organization": page.overview.organization,
            "idps": list(IdpProfile),
            "link_state": setup_links.state,
        },
    )


@router.post("/organizations/{organization_id}/directories")
def create_directory(
    request: Request,
    engine: EngineDep,
    organization_id: str,
    name: Annotated[str, Form(max_length=1000)] = "",
    idp: Annotated[str, Form(max_length=32)] = IdpProfile.generic.value,
    dry_run: Annotated[str | None, Form(max_length=8)] = None,
) -> Response:
    try:
        profile = IdpProfile(idp)
    except ValueError:
        raise PortalError(422, "Choose an identity provider from the list.") from None
    clean = _name(name, "directory")
    created = tenants.create_directory(
        engine, organization_id, clean, profile, dry_run=dry_run is not None
    )
    root = public_root(request)
    return render(
        request,
        "organization/directory_created.html",
        {
            "nav": "dashboard",
            "directory": created.directory,
            "scim_base_url": f"{root}/scim/v2/{created.directory.id}",
            "token": created.token,
        },
        status=201,
    )


@router.post("/organizations/{organization_id}/setup-links")
def create_setup_link(
    request: Request,
    engine: EngineDep,
    organization_id: str,
    valid_days: Annotated[str, Form(max_length=8)] = "7",
    directory_id: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    days = int(valid_days) if valid_days.strip().isascii() and valid_days.strip().isdigit() else 0
    if not 1 <= days <= setup_links.MAX_VALIDITY.days:
        raise PortalError(422, "A setup link is valid for 1 to 30 days.")
    issued = setup_links.create_link(
        engine,
        organization_id,
        directory_id=directory_id or None,
        valid_for=timedelta(days=days),
    )
    return render(
        request,
        "organization/setup_link_created.html",
        {
            "nav": "dashboard",
            "organization_id": organization_id,
            "link": issued.link,
            "url": issued.url(public_root(request)),
        },
        status=201,
    )


@router.post("/setup-links/{link_id}/revoke")
def revoke_setup_link(engine: EngineDep, link_id: str) -> Response:
    link = setup_links.revoke_link(engine, link_id)
    return RedirectResponse(f"/admin/organizations/{link.organization_id}", status_code=303)
