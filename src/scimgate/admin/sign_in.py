"""Signing the SaaS team in and out of the portal with an admin key."""

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from scim2_models import UnauthorizedException

from scimgate.admin.guard import CSRF_FIELD, resume_session
from scimgate.admin.refusals import refused, retry_later
from scimgate.admin.web import (
    ADMIN_COOKIE,
    clear_session_cookie,
    render,
    secure_cookies,
    set_session_cookie,
)
from scimgate.api.engine import EngineDep
from scimgate.service.administration import audit
from scimgate.service.portal import portal_sessions

SIGN_IN_COOKIE = "scimgate_sign_in"
"""Double-submit token of the sign-in form, which has no session yet to hold one."""

router = APIRouter(prefix="/admin", include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only a path inside the portal: never an open redirect to another site."""
    if target and target.startswith("/admin") and not target.startswith("//"):
        return target
    return "/admin/"


@router.get("/sign-in")
def sign_in_page(request: Request, next: str | None = None) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(request, "sign_in.html", {"form_token": token, "next": _safe_next(next)})
    response.set_cookie(
        SIGN_IN_COOKIE,
        token,
        path="/admin/sign-in",
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
        max_age=3600,
    )
    return response


@router.post("/sign-in")
def sign_in(
    request: Request,
    engine: EngineDep,
    key: Annotated[str, Form(max_length=500)],
    form_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
    next: Annotated[str, Form()] = "/admin/",
) -> Response:
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), form_token.encode()):
        return render(
            request,
            "sign_in.html",
            {
                "form_token": form_token,
                "next": _safe_next(next),
                "error": "The sign-in form expired. Try again.",
            },
            status=403,
        )
    try:
        opened = portal_sessions.sign_in(
            engine,
            key,
            request.app.state.settings.admin_token,
            request.app.state.session_policy,
        )
    except UnauthorizedException as exc:
        too_many = refused(request, engine, "portal sign-in", exc.detail or "refused")
        page = render(
            request,
            "sign_in.html",
            {
                "form_token": form_token,
                "next": _safe_next(next),
                "error": too_many.detail if too_many is not None else exc.detail,
            },
            status=429 if too_many is not None else 401,
        )
        return retry_later(page, too_many) if too_many is not None else page
    audit.record(
        engine, audit.Action(actor=opened.session.actor, action="portal sign-in", outcome="ok")
    )
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(request, response, ADMIN_COOKIE, opened.secret, "/admin")
    response.delete_cookie(SIGN_IN_COOKIE, path="/admin/sign-in")
    return response


@router.post("/sign-out")
def sign_out(
    request: Request,
    engine: EngineDep,
    form_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    """End the session; open to read-only keys too, so it checks its CSRF token itself."""
    session = resume_session(request, engine, ADMIN_COOKIE, "admin")
    if session is not None and portal_sessions.csrf_matches(session, form_token):
        portal_sessions.sign_out(engine, session)
        audit.record(
            engine, audit.Action(actor=session.actor, action="portal sign-out", outcome="ok")
        )
    response = RedirectResponse("/admin/sign-in", status_code=303)
    clear_session_cookie(request, response, ADMIN_COOKIE, "/admin")
    return response
