"""The web portal: the SaaS team's admin pages and the IT admin's self-serve setup pages.

Server-rendered with Jinja2; htmx (served from here, no build step) refreshes
parts of pages. Installed on the application by ``install``.
"""

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

from scimgate.admin import (
    dashboard,
    directory_pages,
    log_pages,
    mapping_pages,
    setup,
    sign_in,
    webhook_pages,
)
from scimgate.admin.web import (
    STATIC,
    PortalError,
    SignInRequired,
    error_page,
    render,
    sign_in_redirect,
)


def install(app: FastAPI) -> None:
    app.state.session_policy = app.state.settings.portal_sessions
    app.mount("/admin/static", StaticFiles(directory=STATIC), name="portal-static")
    for module in (
        sign_in,
        dashboard,
        directory_pages,
        log_pages,
        mapping_pages,
        webhook_pages,
        setup,
    ):
        app.include_router(module.router)
    app.add_exception_handler(PortalError, _portal_error)
    app.add_exception_handler(SignInRequired, _sign_in_required)


def too_large_page(scope: Scope, detail: str) -> Response:
    """The portal's answer to a body over its limit: an error page, like its other refusals."""
    return render(Request(scope), "error.html", {"message": detail}, status=413)


async def _portal_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PortalError)
    return error_page(request, exc)


async def _sign_in_required(request: Request, _: Exception) -> Response:
    return sign_in_redirect(request)
