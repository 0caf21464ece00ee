"""The customer's IT admin's self-serve setup, behind a one-time setup link.

Opening the link's address redeems it and binds it to the browser; every
other page needs that browser's session and shows only the link's own
organization and directory: the directory is always the link's, never one
named in a request.
"""

import base64
import json
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from scimgate.admin import idp_guides
from scimgate.admin.guard import Session, resume_session, setup_guard
from scimgate.admin.refusals import refused, retry_later
from scimgate.admin.web import (
    PAGE_HEADERS,
    SETUP_COOKIE,
    PortalError,
    clear_session_cookie,
    render,
    set_session_cookie,
    templates,
)
from scimgate.api.engine import EngineDep
from scimgate.api.public_root import public_root
from scimgate.scim.google_workspace import ScopeKind, SyncScope
from scimgate.scim.idp import IdpProfile
from scimgate.service.administration import audit, google_directories, setup_links
from scimgate.service.administration.google_directories import ConnectionRequest, GoogleRefused
from scimgate.service.administration.oauth_clients import IssuedClient
from scimgate.service.administration.setup_links import OpenLink, SetupLinkRefused, UnknownSetupLink
from scimgate.service.directories import PULLED
from scimgate.service.directory_sync import google_consent
from scimgate.service.directory_sync.google_api import GoogleApiError
from scimgate.service.errors import Invalid
from scimgate.store.google_connections import GoogleConnection

router = APIRouter(include_in_schema=False)
guarded = APIRouter(prefix="/setup", dependencies=[Depends(setup_guard, scope="function")])

HOME = "/setup/"
PULL_CHOICE = "google-workspace"
"""The choice of a directory scimgate reads from Google Workspace, beside the IdPs that push."""

PULLED_NAME = "Google Workspace directory sync"
GOOGLE_FIELDS = ("admin_email", "customer_id", "scope_kind", "scope_values")
CALLBACK_PATH = "/setup/google/callback"
"""Where Google sends the administrator back (the operator registers it with its OAuth client)."""

CONSENT_COOKIE = "scimgate_google_consent"


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
    engine: Engine,
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
                "pull_choice": PULL_CHOICE,
                "message": message,
            },
            status=status,
        )
    if directory.kind == PULLED:
        return _google_page(request, engine, opened, message=message, status=status)
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
def setup_page(request: Request, engine: EngineDep, opened: Link) -> Response:
    return _page(request, engine, opened)


@guarded.post("/directory")
def choose_idp(
    request: Request,
    engine: EngineDep,
    opened: Link,
    idp: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
) -> Response:
    pulled = idp == PULL_CHOICE
    try:
        profile = IdpProfile.google if pulled else IdpProfile(idp)
    except ValueError:
        return _page(request, engine, opened, message="Choose your identity provider.", status=400)
    default = PULLED_NAME if pulled else idp_guides.guide_for(profile).default_directory_name
    chosen = name.strip() or default
    try:
        directory = setup_links.connect(engine, opened.link, profile, chosen, pulled=pulled)
    except Invalid as exc:
        return _page(request, engine, opened, message=str(exc), status=400)
    request.state.setup_directory_id = directory.id
    return RedirectResponse(HOME, status_code=303)


@guarded.post("/token")
def reveal_token(request: Request, engine: EngineDep, opened: Link) -> Response:
    """The token, in this answer only: a reload or another post never shows it again."""
    try:
        issued = setup_links.reveal_token(engine, opened.link)
    except SetupLinkRefused as exc:
        return _page(request, engine, opened, message=str(exc), status=409)
    return _page(request, engine, opened, token=issued.secret)


@guarded.post("/oauth-client")
def reveal_oauth_client(request: Request, engine: EngineDep, opened: Link) -> Response:
    """OAuth client credentials, in this answer only: pressing again gives a new secret."""
    try:
        issued = setup_links.setup_oauth_client(engine, opened.link)
    except SetupLinkRefused as exc:
        return _page(request, engine, opened, message=str(exc), status=409)
    return _page(request, engine, opened, oauth_client=issued)


def _google_page(
    request: Request,
    engine: Engine,
    opened: OpenLink,
    *,
    message: str | None = None,
    status: int = 200,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    """A pulled directory's setup: what to do in Google, and the form that connects it."""
    settings = request.app.state.settings.google
    connection = setup_links.google_connection(engine, opened.link)
    return render(
        request,
        "setup/google.html",
        {
            "organization": opened.organization,
            "directory": opened.directory,
            "link": opened.link,
            "connection": connection,
            "operator_client": google_directories.operator_client(settings),
            "scopes": google_directories.delegation_scopes(),
            "consent_offered": google_consent.offered(settings),
            "form": form or _form_of(connection),
            "message": message,
        },
        status=status,
    )


def _form_of(connection: GoogleConnection | None) -> dict[str, str]:
    if connection is None:
        return {"customer_id": google_directories.MY_CUSTOMER, "scope_kind": "all"}
    return {
        "admin_email": connection.admin_email,
        "customer_id": connection.customer_id,
        "scope_kind": connection.scope_kind,
        "scope_values": "\n".join(connection.scope_values),
    }


@guarded.post("/google")
async def connect_google(request: Request, engine: EngineDep, opened: Link) -> Response:
    """Check the connection with Google, then keep it; refused, the form comes back with why."""
    form = await request.form()
    upload = form.get("key")
    text = {name: str(form.get(name) or "").strip() for name in GOOGLE_FIELDS}
    try:
        key_text = (await upload.read()).decode() if isinstance(upload, UploadFile) else ""
        scope = _scope(text)
        connection = ConnectionRequest(
            admin_email=text["admin_email"],
            customer_id=text["customer_id"] or google_directories.MY_CUSTOMER,
            key=google_directories.read_key(key_text) if key_text.strip() else None,
            scope=scope,
        )
        await run_in_threadpool(
            setup_links.connect_google,
            engine,
            request.app.state.settings.google,
            opened.link,
            connection,
        )
    except (ValueError, Invalid, GoogleRefused, SetupLinkRefused, UnicodeDecodeError) as exc:
        said = str(exc) if not isinstance(exc, UnicodeDecodeError) else "the key is not text"
        return await run_in_threadpool(
            _google_page, request, engine, opened, message=said, status=400, form=text
        )
    return RedirectResponse(HOME, status_code=303)


@guarded.post("/google/consent")
async def start_consent(request: Request, engine: EngineDep, opened: Link) -> Response:
    """Off to Google's consent screen, with the scope chosen here kept in a cookie of this
    path, and a state only this browser holds."""
    form = await request.form()
    text = {name: str(form.get(name) or "").strip() for name in GOOGLE_FIELDS}
    try:
        scope = _scope(text)
        settings = request.app.state.settings.google
        state = secrets.token_urlsafe(24)
        url = google_consent.consent_url(settings, _callback(request), state)
    except (ValueError, GoogleApiError) as exc:
        return await run_in_threadpool(
            _google_page, request, engine, opened, message=str(exc), status=400, form=text
        )
    pending = {
        "state": state,
        "customer_id": text["customer_id"] or google_directories.MY_CUSTOMER,
        "scope_kind": scope.kind.value,
        "scope_values": list(scope.values),
    }
    response = RedirectResponse(url, status_code=303)
    set_session_cookie(request, response, CONSENT_COOKIE, _encoded(pending), CALLBACK_PATH)
    return response


@guarded.get("/google/callback")
async def finish_consent(
    request: Request,
    engine: EngineDep,
    opened: Link,
    state: str = "",
    code: str = "",
    error: str = "",
) -> Response:
    """Where Google sends the administrator back: the consent's code becomes the directory's
    credentials, once Google has shown one user with them."""
    pending = _decoded(request.cookies.get(CONSENT_COOKIE, ""))
    if pending is None or not secrets.compare_digest(str(pending.get("state")), state):
        message = "This sign-in did not start on this page: sign in with Google again."
        return await run_in_threadpool(
            _google_page, request, engine, opened, message=message, status=400
        )
    if error or not code:
        message = f"Google did not give the consent ({error or 'no code'}): sign in again."
        return await run_in_threadpool(
            _google_page, request, engine, opened, message=message, status=400
        )
    settings = request.app.state.settings.google
    try:
        consent = await run_in_threadpool(
            google_consent.exchange, settings, _callback(request), code
        )
        connection = ConnectionRequest(
            admin_email=consent.admin_email,
            customer_id=str(pending.get("customer_id") or google_directories.MY_CUSTOMER),
            key=consent.credentials,
            scope=SyncScope(
                ScopeKind(str(pending.get("scope_kind"))),
                tuple(str(value) for value in pending.get("scope_values") or ()),
            ),
        )
        await run_in_threadpool(
            setup_links.connect_google, engine, settings, opened.link, connection
        )
    except (ValueError, Invalid, GoogleRefused, GoogleApiError, SetupLinkRefused) as exc:
        return await run_in_threadpool(
            _google_page, request, engine, opened, message=str(exc), status=400
        )
    response = RedirectResponse(HOME, status_code=303)
    clear_session_cookie(request, response, CONSENT_COOKIE, CALLBACK_PATH)
    return response


def _callback(request: Request) -> str:
    return f"{public_root(request)}{CALLBACK_PATH}"


def _scope(text: dict[str, str]) -> SyncScope:
    """The scope a form chose; one value per line, as an org unit's name may hold spaces."""
    values = tuple(line.strip() for line in text["scope_values"].splitlines() if line.strip())
    return SyncScope(ScopeKind(text["scope_kind"] or ScopeKind.all), values)


def _encoded(pending: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(pending).encode()).decode()


def _decoded(cookie: str) -> dict[str, Any] | None:
    try:
        found = json.loads(base64.urlsafe_b64decode(cookie.encode()))
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


@guarded.get("/google/status")
def google_status(request: Request, engine: EngineDep, opened: Link) -> Response:
    """The live sync status fragment the Google setup page polls."""
    return render(
        request,
        "setup/_google_status.html",
        {"connection": setup_links.google_connection(engine, opened.link)},
    )


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
