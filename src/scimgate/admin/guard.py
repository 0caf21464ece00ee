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
from starlette.concurrency import run_in_threadpool

from scimgate.admin.refusals import refused
from scimgate.admin.web import ADMIN_COOKIE, SETUP_COOKIE, PortalError, SignInRequired
from scimgate.service import audit, portal_sessions
from scimgate.service.admin_keys import READ_METHODS
from scimgate.store.portal_sessions import PortalSession

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


async def _resume(request: Request, cookie: str, kind: str) -> PortalSession | None:
    return await run_in_threadpool(
        portal_sessions.resume,
        request.app.state.engine,
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
async def _guarded(request: Request, session: PortalSession) -> AsyncIterator[None]:
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
        await run_in_threadpool(audit.record, request.app.state.engine, action)


async def admin_guard(request: Request) -> AsyncIterator[None]:
    """Router dependency of the SaaS team's pages."""
    session = await _resume(request, ADMIN_COOKIE, "admin")
    if session is None:
        raise SignInRequired()
    request.state.portal_session = session
    async with _guarded(request, session):
        yield


async def setup_guard(request: Request) -> AsyncIterator[None]:
    """Router dependency of the pages behind a redeemed setup link."""
    session = await _resume(request, SETUP_COOKIE, "setup")
    if session is None:
        too_many = await refused(request, None, "no setup session")
        if too_many is not None:
            raise PortalError(429, str(too_many.detail), retry_after=too_many.retry_after)
        raise PortalError(
            401,
            "This page opens only in the browser where the setup link was first opened, "
            "while the link is valid. Ask your vendor for a new link.",
        )
    request.state.portal_session = session
    async with _guarded(request, session):
        yield


def current_session(request: Request) -> PortalSession:
    session: PortalSession = request.state.portal_session
    return session


Session = Annotated[PortalSession, Depends(current_session)]
"""The signed-in session, for a handler behind ``admin_guard`` or ``setup_guard``."""
