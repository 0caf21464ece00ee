"""The portal's words for what the service refuses: mapped here, once, for every page.

A page whose use case refuses the request (an unknown organization or directory, a
value it cannot take) shows the error page with the status an HTTP client would get.
A form that can show the refusal beside its fields catches ``Invalid`` itself.
"""

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
