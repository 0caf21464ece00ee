"""Rendering portal pages: the templates, the errors pages show, and the session cookies."""

import json
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from scimgate.store.portal_sessions import PortalSession
from scimgate.wording import counted

HERE = Path(__file__).parent
STATIC = HERE / "static"

ADMIN_COOKIE = "scimgate_portal"
SETUP_COOKIE = "scimgate_setup"

templates = Jinja2Templates(directory=HERE / "templates")

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    # Scripts and styles only from the portal itself; no framing; forms post only here.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # A setup link's secret is in its address: never send it to another site.
    "Referrer-Policy": "no-referrer",
}


class PortalError(Exception):
    """A page that cannot be shown: rendered as an error page with this status and message."""

    def __init__(self, status: int, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after
        """Seconds for ``Retry-After``, when the refusal is a 429."""


class SignInRequired(Exception):
    """No live admin session: the browser is sent to the sign-in page, then back."""


def sign_in_redirect(request: Request) -> Response:
    """The answer to a page asked for without an admin session: the sign-in page, then back."""
    target = f"/admin/sign-in?next={quote(request.url.path)}"
    if request.headers.get("HX-Request"):
        # htmx follows this with a full page load instead of swapping the sign-in page in.
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    """A page or an htmx fragment, with the signed-in session and its CSRF token in context.

    Pages are never cached: they may show data only a signed-in person may see.
    """
    session: PortalSession | None = getattr(request.state, "portal_session", None)
    values = {
        "session": session,
        "csrf_token": session.csrf_token if session is not None else "",
        "now": datetime.now(UTC),
        **(context or {}),
    }
    if status >= 400:
        # A change answered with a page that refuses it is audited as refused.
        request.state.answered_refusal = True
    response = templates.TemplateResponse(request, template, values, status_code=status)
    response.headers.update(PAGE_HEADERS)
    return response


def error_page(request: Request, error: PortalError) -> HTMLResponse:
    """The page of a ``PortalError``, with ``Retry-After`` when it has one."""
    page = render(request, "error.html", {"message": error.message}, status=error.status)
    if error.retry_after is not None:
        page.headers["Retry-After"] = str(error.retry_after)
    return page


def secure_cookies(request: Request) -> bool:
    """Cookies are ``Secure`` whenever the portal is reached over HTTPS (directly or by proxy)."""
    public_url: str | None = request.app.state.settings.public_url
    return request.url.scheme == "https" or bool(public_url and public_url.startswith("https:"))


def set_session_cookie(
    request: Request, response: Response, name: str, secret: str, path: str
) -> None:
    """The session cookie: unreadable by scripts, not sent cross-site with forms, path-bound."""
    response.set_cookie(
        name,
        secret,
        path=path,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )


def clear_session_cookie(request: Request, response: Response, name: str, path: str) -> None:
    response.delete_cookie(
        name, path=path, httponly=True, samesite="lax", secure=secure_cookies(request)
    )


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """``3 min ago``: how long ago a time was, for people scanning a table."""
    if value is None:
        return "never"
    seconds = int(((now or datetime.now(UTC)) - value).total_seconds())
    if seconds < 0:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def utc(value: datetime | None) -> str:
    """A time as people read it in the portal: UTC, to the second."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


def clock(value: datetime, now: datetime | None = None) -> str:
    """``14:03:27`` today, ``Dec 04 14:03`` before: a time that fits a narrow table column.

    Pages show the full time (:func:`utc`) on hover.
    """
    moment = value.astimezone(UTC)
    if moment.date() == (now or datetime.now(UTC)).date():
        return moment.strftime("%H:%M:%S")
    return moment.strftime("%b %d %H:%M")


def who(session: Any) -> str:
    """Who is signed in, by name: an admin key's actor also carries its id, first."""
    key_id: str | None = session.admin_key_id
    actor: str = session.actor
    if key_id and actor.startswith(f"{key_id} "):
        return actor[len(key_id) + 1 :]
    return actor


def status_words(status: int) -> str:
    """``409 Conflict``: a status with its name, so that nobody needs to remember codes."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def status_badge(status: int) -> str:
    """The badge class of a status: fine, refused, or broken."""
    if status >= 500:
        return "badge-bad"
    if status >= 400:
        return "badge-warn"
    return "badge-ok"


def pretty_json(value: Any) -> str:
    """A logged body as people read it: indented, non-ASCII left as it is (templates escape it)."""
    return json.dumps(value, indent=2, ensure_ascii=False)


templates.env.filters.update(
    ago=ago,
    utc=utc,
    clock=clock,
    who=who,
    status_words=status_words,
    status_badge=status_badge,
    pretty_json=pretty_json,
    counted=counted,
)
