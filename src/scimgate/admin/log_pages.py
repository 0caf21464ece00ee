"""The provisioning log in the portal: a directory's SCIM requests, filtered, and one in full.

The table and the entry partials (``logs/_table.html``, ``logs/_entry.html``)
are shared with the IT admin's setup pages; the filters they use are
registered here, on the portal's one template environment.
"""

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from scimgate.admin.guard import admin_guard
from scimgate.admin.web import PortalError, render
from scimgate.api.engine import EngineDep
from scimgate.service.operations import provisioning_log
from scimgate.service.operations.provisioning_log import LogPage
from scimgate.service.portal import directory_summary
from scimgate.service.provisioning.bounds import utc_instant

router = APIRouter(
    prefix="/admin", include_in_schema=False, dependencies=[Depends(admin_guard, scope="function")]
)

PAGE_SIZE = 50
STATUS_CHOICES = (
    ("", "Any status"),
    ("failures", "Failures (4xx and 5xx)"),
    ("4xx", "4xx: refused"),
    ("5xx", "5xx: server errors"),
    ("409", "409 Conflict"),
)


def _since(text: str | None) -> datetime | None:
    """A time from the filter form (``datetime-local`` sends no zone: the portal speaks UTC)."""
    if not text:
        return None
    try:
        return utc_instant(datetime.fromisoformat(text))
    except ValueError as exc:
        raise PortalError(400, f"since: {text[:100]!r} is not a date and time: {exc}") from None


@router.get("/directories/{directory_id}/logs")
def log_page(
    request: Request,
    engine: EngineDep,
    directory_id: str,
    status: str | None = None,
    user: str | None = None,
    since: str | None = None,
    before: str | None = None,
) -> HTMLResponse:
    """The log, newest first; an htmx request gets only the table (filters, next page)."""
    filters = {"status": status or "", "user": (user or "").strip(), "since": since or ""}
    summary = directory_summary.directory_summary(engine, directory_id)
    page: LogPage = provisioning_log.search(
        engine,
        directory_id,
        limit=PAGE_SIZE,
        status=filters["status"] or None,
        user=filters["user"] or None,
        since=_since(since),
        before=before or None,
    )
    context = {
        "directory": summary.directory,
        "tab": "logs",
        "entries": page.entries,
        "next_cursor": page.next_cursor,
        "filters": filters,
        "status_choices": STATUS_CHOICES,
        "link_base": f"/admin/directories/{directory_id}/logs",
        "older": before is not None,
    }
    if request.headers.get("HX-Request"):
        return render(request, "directory/logs_results.html", context)
    return render(request, "directory/logs.html", context)


@router.get("/directories/{directory_id}/logs/{log_id}")
def log_entry(request: Request, engine: EngineDep, directory_id: str, log_id: str) -> HTMLResponse:
    """One request in full: its diagnosis first, then what was sent and answered."""
    summary = directory_summary.directory_summary(engine, directory_id)
    found = provisioning_log.entry(engine, directory_id, log_id)
    if found is None:
        raise PortalError(404, "This log entry does not exist, or retention has removed it.")
    return render(
        request,
        "directory/logs_entry.html",
        {
            "directory": summary.directory,
            "tab": "logs",
            "entry": found,
            "link_base": f"/admin/directories/{directory_id}/logs",
        },
    )
