"""The portal's words for what the service refuses: mapped here, once, for every page.

A page whose use case refuses the request (an unknown organization or directory, a
value it cannot take) shows the error page with the status an HTTP client would get.
A form that can show the refusal beside its fields catches ``Invalid`` itself.
"""

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from scimgate.admin.web import PortalError, error_page
from scimgate.service.errors import (
    Invalid,
    NotFound,
    ServiceError,
    UnknownDirectory,
    UnknownOrganization,
    UnknownSetupLinkId,
)

PORTAL_PREFIXES = ("/admin", "/setup")
"""Where the portal's pages are: the SaaS team's admin pages and the IT admin's setup pages."""


def in_portal(path: str) -> bool:
    return path.startswith(PORTAL_PREFIXES)


def refusal_page(request: Request, exc: ServiceError) -> HTMLResponse:
    """The error page answering a refusal of the service."""
    return error_page(request, _portal_error(exc))


def http_error_page(request: Request, status: int) -> HTMLResponse:
    """The error page of an address the portal has no page for, or cannot answer that way."""
    if status == 404:
        message = "There is no such page. Check the address, or start again from the dashboard."
    elif status == 405:
        message = "This page cannot be used that way."
    else:
        message = f"{_phrase(status)}."
    return error_page(request, PortalError(status, message))


def invalid_parameters_page(request: Request, errors: Sequence[Mapping[str, Any]]) -> HTMLResponse:
    """The error page of an address whose parameters (``?start=``, a form's field) are refused.

    Each problem is named by its parameter and rule; ``errors`` are FastAPI's.
    """
    problems = [
        f"{'.'.join(str(part) for part in error.get('loc', ())[1:]) or 'the form'}: "
        f"{error.get('msg', 'not accepted')}"
        for error in errors
    ]
    message = f"This page cannot take these values. {'; '.join(problems)}."
    return error_page(request, PortalError(400, message))


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"Error {status}"


def _portal_error(exc: ServiceError) -> PortalError:
    if isinstance(exc, UnknownOrganization):
        return PortalError(404, "No such organization.")
    if isinstance(exc, UnknownDirectory) and exc.organization_id is not None:
        return PortalError(404, "No such organization, or that directory is not one of its.")
    if isinstance(exc, UnknownDirectory):
        return PortalError(404, "No such directory.")
    if isinstance(exc, UnknownSetupLinkId):
        return PortalError(404, "No such setup link.")
    if isinstance(exc, NotFound):
        return PortalError(404, f"{str(exc)[:1].upper()}{str(exc)[1:]}.")
    if isinstance(exc, Invalid):
        return PortalError(400, str(exc))
    return PortalError(409, str(exc))
