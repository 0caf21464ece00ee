"""What every portal request passes: a live session, a CSRF token on changes, the audit log.

Pages of the SaaS team need an admin session; pages behind a setup link need
the session of the browser that redeemed it. A request that changes anything
must carry the session's CSRF token (form field ``csrf_token`` or header
``X-CSRF-Token``, which htmx sends) and, for an admin, a ``write`` key; it is
written to the audit log whatever its outcome.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from scimgate.admin.refusals import refused
from scimgate.admin.web import (
    ADMIN_COOKIE,
    SETUP_COOKIE,
    PortalError,
    SignInRequired,
    error_page,
    sign_in_redirect,
)
from scimgate.api.engine import EngineDep
from scimgate.service.administration import audit
from scimgate.service.administration.admin_keys import READ_METHODS
from scimgate.service.portal import portal_sessions
from scimgate.store.portal_sessions import PortalSession

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


def resume_session(
    request: Request, engine: Engine, cookie: str, kind: str
) -> PortalSession | None:
    """The live session of ``kind`` the request's ``cookie`` names, if any. Blocking."""
    return portal_sessions.resume(
        engine,
        request.cookies.get(cookie),
        kind,
        request.app.state.session_policy,
        request.app.state.settings.admin_token,
    )


async def _check_change(request: Request, session: PortalSession) -> None:
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        form = await request.form()
        field = form.get(CSRF_FIELD)
        given = field if isinstance(field, str) else None
    if not portal_sessions.csrf_matches(session, given):
        raise PortalError(
            403,
            "This form has expired or did not come from this portal. Reload the page, then retry.",
        )
    if session.scope != "write":
        raise PortalError(403, "You signed in with a read-only key: you may look, not change.")


@asynccontextmanager
async def _guarded(request: Request, engine: Engine, session: PortalSession) -> AsyncIterator[None]:
    """Check a change's CSRF token and scope, and audit it, whatever its outcome."""
    if request.method in READ_METHODS:
        yield
        return
    outcome = "ok"
    try:
        await _check_change(request, session)
        yield
    except PortalError as exc:
        outcome = "error" if exc.status >= 500 else "refused"
        raise
    except Exception:
        outcome = "error"
        raise
    finally:
        if outcome == "ok" and getattr(request.state, "answered_refusal", False):
            outcome = "refused"
        route = request.scope.get("route")
        action = audit.route_action(
            session.actor,
            f"portal {request.method}",
            getattr(route, "path", request.url.path),
            request.path_params,
            outcome,
        )
        if session.kind == "setup":
            action = replace(
                action, directory_id=getattr(request.state, "setup_directory_id", None)
            )
        await run_in_threadpool(audit.record, engine, action)


async def admin_guard(request: Request, engine: EngineDep) -> AsyncIterator[None]:
    """Router dependency of the SaaS team's pages.

    Async, as a change's CSRF token may have to be read from its form.
    """
    session = await run_in_threadpool(resume_session, request, engine, ADMIN_COOKIE, "admin")
    if session is None:
        raise SignInRequired()
    request.state.portal_session = session
    async with _guarded(request, engine, session):
        yield


async def setup_guard(request: Request, engine: EngineDep) -> AsyncIterator[None]:
    """Router dependency of the pages behind a redeemed setup link; async as ``admin_guard``."""
    session = await run_in_threadpool(resume_session, request, engine, SETUP_COOKIE, "setup")
    if session is None:
        raise await _no_setup_session(request, engine)
    request.state.portal_session = session
    async with _guarded(request, engine, session):
        yield


async def _no_setup_session(request: Request, engine: Engine) -> PortalError:
    """The refusal of a setup page without its session: 401, or 429 for an address refused
    too often."""
    too_many = await run_in_threadpool(refused, request, engine, None, "no setup session")
    if too_many is not None:
        return PortalError(429, str(too_many.detail), retry_after=too_many.retry_after)
    return PortalError(
        401,
        "This page opens only in the browser where the setup link was first opened, "
        "while the link is valid. Ask your vendor for a new link.",
    )


OPEN_TO_ANYONE = frozenset({"/admin/sign-in", "/admin/sign-out"})
"""Portal changes that need no session: signing in, and signing out (which checks its own)."""


class PortalGate:
    """A change to a portal page is read only once its session is known.

    FastAPI reads a form before a route's dependencies run, so the guards
    above would read an anonymous form before refusing it. Here a change to
    an admin page without an admin session is sent to sign in, and one to a
    setup page without a setup session is refused, before a byte of its form
    is read. The guards then check the session again, with its CSRF token and scope.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = _session_kind(scope)
        if kind is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        # Middleware, outside dependency injection: the engine is the application's.
        engine: Engine = request.app.state.engine
        cookie = ADMIN_COOKIE if kind == "admin" else SETUP_COOKIE
        if await run_in_threadpool(resume_session, request, engine, cookie, kind) is None:
            if kind == "admin":
                refusal: Response = sign_in_redirect(request)
            else:
                refusal = error_page(request, await _no_setup_session(request, engine))
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _session_kind(scope: Scope) -> str | None:
    """The session a request must come with before its body is read, if any."""
    if scope["type"] != "http" or scope["method"] in READ_METHODS:
        return None
    path: str = scope["path"]
    if path.startswith("/admin/") and path not in OPEN_TO_ANYONE:
        return "admin"
    if path.startswith("/setup/"):
        return "setup"
    return None


def current_session(request: Request) -> PortalSession:
    session: PortalSession = request.state.portal_session
    return session


Session = Annotated[PortalSession, Depends(current_session)]
"""The signed-in session, for a handler behind ``admin_guard`` or ``setup_guard``."""
