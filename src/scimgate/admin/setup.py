"""The customer's IT admin's self-serve setup, behind a one-time setup link.

Opening the link's address redeems it and binds it to the browser; every
other page needs that browser's session and shows only the link's own
organization and directory: the directory is always the link's, never one
named in a request.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from scimgate.admin import idp_guides
from scimgate.admin.guard import Session, resume_session, setup_guard
from scimgate.admin.refusals import refused, retry_later
from scimgate.admin.web import (
    PAGE_HEADERS,
    SETUP_COOKIE,
    PortalError,
    render,
    set_session_cookie,
    templates,
)
from scimgate.api.engine import EngineDep
from scimgate.api.public_root import public_root
from scimgate.scim.idp import IdpProfile
from scimgate.service.administration import audit, setup_links
from scimgate.service.administration.oauth_clients import IssuedClient
from scimgate.service.administration.setup_links import OpenLink, SetupLinkRefused, UnknownSetupLink
from scimgate.service.errors import Invalid

router = APIRouter(include_in_schema=False)
guarded = APIRouter(prefix="/setup", dependencies=[Depends(setup_guard, scope="function")])

HOME = "/setup/"


def scim_relative(path: str) -> str:
    """A logged path below the SCIM base URL: ``/scim/v2/<id>/Users/1`` → ``/Users/1``."""
    parts = path.split("/", 4)
    return "/" + parts[4] if len(parts) == 5 else path


def idp_name(idp: str) -> str:
    return idp_guides.guide_for(idp).name


# Prefixed: the portal's template environment is shared by every page.
templates.env.filters["setup_scim_path"] = scim_relative
templates.env.filters["setup_idp_name"] = idp_name


def _open_link(request: Request, engine: EngineDep, session: Session) -> OpenLink:
    """The session's link with its organization and directory; a 410 once it is unusable."""
    if session.setup_link_id is None:
        raise PortalError(401, "This page opens only through a setup link.")
    try:
        opened = setup_links.open_link_view(engine, session.setup_link_id)
    except SetupLinkRefused as exc:
        raise PortalError(410, str(exc)) from exc
    if opened.directory is not None:
        # The audit log files the setup's changes under the link's directory.
        request.state.setup_directory_id = opened.directory.id
    return opened


Link = Annotated[OpenLink, Depends(_open_link)]


def _page(
    request: Request,
    opened: OpenLink,
    *,
    token: str | None = None,
    oauth_client: IssuedClient | None = None,
    message: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The setup page: the choice of IdP, or the instructions for the chosen one."""
    directory = opened.directory
    if directory is None:
        return render(
            request,
            "setup/choose.html",
            {
                "organization": opened.organization,
                "guides": list(idp_guides.GUIDES.values()),
                "message": message,
            },
            status=status,
        )
    return render(
        request,
        "setup/connect.html",
        {
            "organization": opened.organization,
            "directory": directory,
            "link": opened.link,
            "guide": idp_guides.guide_for(directory.idp),
            "scim_url": f"{public_root(request)}/scim/v2/{directory.id}",
            "token": token,
            "oauth_client": oauth_client,
            "token_endpoint": f"{public_root(request)}/oauth/token",
            "message": message,
        },
        status=status,
    )


@guarded.get("/")
def setup_page(request: Request, opened: Link) -> Response:
    return _page(request, opened)


@guarded.post("/directory")
def choose_idp(
    request: Request,
    engine: EngineDep,
    opened: Link,
    idp: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
) -> Response:
    try:
        profile = IdpProfile(idp)
    except ValueError:
        return _page(request, opened, message="Choose your identity provider.", status=400)
    chosen = name.strip() or idp_guides.guide_for(profile).default_directory_name
    try:
        directory = setup_links.connect(engine, opened.link, profile, chosen)
    except Invalid as exc:
        return _page(request, opened, message=str(exc), status=400)
    request.state.setup_directory_id = directory.id
    return RedirectResponse(HOME, status_code=303)


@guarded.post("/token")
def reveal_token(request: Request, engine: EngineDep, opened: Link) -> Response:
    """The token, in this answer only: a reload or another post never shows it again."""
    try:
        issued = setup_links.reveal_token(engine, opened.link)
    except SetupLinkRefused as exc:
        return _page(request, opened, message=str(exc), status=409)
    return _page(request, opened, token=issued.secret)


@guarded.post("/oauth-client")
def reveal_oauth_client(request: Request, engine: EngineDep, opened: Link) -> Response:
    """OAuth client credentials, in this answer only: pressing again gives a new secret."""
    try:
        issued = setup_links.setup_oauth_client(engine, opened.link)
    except SetupLinkRefused as exc:
        return _page(request, opened, message=str(exc), status=409)
    return _page(request, opened, oauth_client=issued)


@guarded.get("/status")
def status(request: Request, engine: EngineDep, opened: Link) -> Response:
    """The live status fragment the setup page polls."""
    found = setup_links.setup_status(engine, opened.link, public_root(request))
    directory = found.directory if found else None
    return render(
        request,
        "setup/_status.html",
        {
            "status": found,
            "guide": idp_guides.guide_for(directory.idp if directory else None),
            "detected": idp_guides.guide_for(
                (directory.idp_detected or directory.idp) if directory else None
            ),
        },
    )


@guarded.get("/logs")
def logs(
    request: Request,
    engine: EngineDep,
    opened: Link,
    failed: bool = False,
    before: str | None = None,
) -> Response:
    page = setup_links.setup_log(engine, opened.link, failures_only=failed, before=before)
    return render(
        request,
        "setup/logs.html",
        {
            "organization": opened.organization,
            "directory": opened.directory,
            "page": page,
            "failed": failed,
        },
    )


@guarded.get("/logs/{log_id}")
def log_entry(request: Request, engine: EngineDep, opened: Link, log_id: str) -> Response:
    found = setup_links.setup_log_entry(engine, opened.link, log_id)
    if found is None:
        raise PortalError(404, "Your directory's log has no such entry.")
    return render(
        request,
        "setup/log_entry.html",
        {"organization": opened.organization, "directory": opened.directory, "entry": found},
    )


router.include_router(guarded)


# Registered after the pages above, so that /setup/status and the like never read as a secret.
@router.get("/setup/{secret}")
def open_link(request: Request, engine: EngineDep, secret: str) -> Response:
    """Redeem a link and move its secret out of the address bar, into a cookie."""
    held = resume_session(request, engine, SETUP_COOKIE, "setup")
    try:
        opening = setup_links.open_link(engine, secret, held)
    except SetupLinkRefused as exc:
        too_many = refused(request, engine, "portal setup-link open", str(exc))
        if too_many is not None:
            page = render(request, "setup/error.html", {"message": too_many.detail}, status=429)
            return retry_later(page, too_many)
        unknown = isinstance(exc, UnknownSetupLink)
        return render(
            request, "setup/error.html", {"message": str(exc)}, status=404 if unknown else 410
        )
    # Never cached: the answer to the link's address may carry the new session's cookie.
    response = RedirectResponse(HOME, status_code=303, headers=PAGE_HEADERS)
    if opening.opened is not None:
        audit.record(
            engine,
            audit.Action(
                actor=opening.opened.session.actor,
                action="portal setup-link open",
                outcome="ok",
                target_type="setup-link",
                target_id=opening.link.id,
                organization_id=opening.link.organization_id,
            ),
        )
        set_session_cookie(request, response, SETUP_COOKIE, opening.opened.secret, "/setup")
    return response
