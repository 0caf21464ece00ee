"""Webhook endpoints in the portal: registering, turning on and off, secrets, deliveries, replay.

A signing secret appears only in the answer to the form that made it
(registration, rotation); no other page shows it.
"""

import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine

from scimgate.admin.guard import Session, admin_guard
from scimgate.admin.web import PortalError, render
from scimgate.api.engine import EngineDep
from scimgate.records import frozen
from scimgate.service.administration import tenants
from scimgate.service.administration.admin_keys import WRITE_SCOPE
from scimgate.service.errors import Conflict, Invalid, NotFound
from scimgate.service.event_stream import endpoint_health, webhooks
from scimgate.service.event_stream.webhooks import EndpointInfo
from scimgate.store.webhook_deliveries import PENDING, Delivery

router = APIRouter(
    prefix="/admin", include_in_schema=False, dependencies=[Depends(admin_guard, scope="function")]
)

BACKLOG_CAP = 1000
"""The backlog is counted up to this many waiting deliveries; beyond, the page says ``1000+``."""

FAILING = "failing"
DELIVERY_FILTERS = (
    ("", "All deliveries"),
    (FAILING, "Failing (waiting, with failed attempts)"),
    ("pending", "Waiting"),
    ("delivered", "Delivered"),
    ("expired", "Expired"),
)
_SEPARATORS = re.compile(r"[\s,]+")


@frozen
class EndpointForm:
    """The registration form as typed, to show again beside an error."""

    url: str = ""
    organization_id: str = ""
    description: str = ""
    event_types: str = ""
    revocation_hook: bool = False


def _list_page(
    request: Request,
    engine: Engine,
    form: EndpointForm,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    found = webhooks.list_endpoints(engine)
    organizations = tenants.list_organizations(engine)
    return render(
        request,
        "webhooks/list.html",
        {
            "nav": "webhooks",
            "endpoints": found,
            "organizations": {each.id: each.name for each in organizations},
            "form": form,
            "error": error,
            "known_types": webhooks.KNOWN_TYPES,
        },
        status=status,
    )


@router.get("/webhooks")
def endpoint_list(request: Request, engine: EngineDep) -> HTMLResponse:
    """Every endpoint with its state and secrets' ages, and the form to register one."""
    return _list_page(request, engine, EndpointForm())


@router.post("/webhooks")
def register(
    request: Request,
    engine: EngineDep,
    url: Annotated[str, Form(max_length=4096)] = "",
    organization_id: Annotated[str, Form(max_length=64)] = "",
    description: Annotated[str, Form(max_length=1000)] = "",
    event_types: Annotated[str, Form(max_length=4096)] = "",
    revocation_hook: Annotated[bool, Form()] = False,
) -> HTMLResponse:
    """Register an endpoint; the page that answers shows its secret, this once."""
    form = EndpointForm(
        url.strip(), organization_id, description.strip(), event_types, revocation_hook
    )
    try:
        created = webhooks.register(
            engine,
            form.url,
            allowed=request.app.state.settings.events.webhook_allowed_hosts,
            organization_id=form.organization_id or None,
            event_types=[kind for kind in _SEPARATORS.split(event_types) if kind],
            description=form.description,
            revocation_hook=form.revocation_hook,
        )
    except (Invalid, NotFound) as exc:
        return _list_page(request, engine, form, str(exc), status=400)
    return render(
        request,
        "webhooks/secret.html",
        {"nav": "webhooks", "endpoint": created.endpoint, "secret": created.secret, "new": True},
        status=201,
    )


@router.get("/webhooks/{endpoint_id}/backlog")
def backlog(request: Request, engine: EngineDep, endpoint_id: str) -> HTMLResponse:
    """How many deliveries wait for an endpoint (loaded by the list, one endpoint at a time)."""
    waiting = webhooks.deliveries(engine, endpoint_id, PENDING, BACKLOG_CAP + 1)
    return render(
        request,
        "webhooks/_backlog.html",
        {
            "count": len(waiting),
            "cap": BACKLOG_CAP,
            "failing": endpoint_health.failing(engine, endpoint_id),
        },
    )


def _endpoint_page(
    request: Request,
    engine: Engine,
    endpoint: EndpointInfo,
    status: str,
    secret: str | None = None,
) -> HTMLResponse:
    service_status = PENDING if status == FAILING else status or None
    found = webhooks.deliveries(engine, endpoint.id, service_status)
    if status == FAILING:
        found = [each for each in found if each.attempts > 0]
    types = webhooks.event_types(engine, [each.event_seq for each in found])
    organization = (
        tenants.find_organization(engine, endpoint.organization_id)
        if endpoint.organization_id
        else None
    )
    context: dict[str, Any] = {
        "nav": "webhooks",
        "endpoint": endpoint,
        "organization": organization,
        "failing": endpoint_health.failing(engine, endpoint.id),
        "deliveries": found,
        "types": types,
        "status": status,
        "filters": DELIVERY_FILTERS,
    }
    if secret is not None:
        return render(request, "webhooks/secret.html", {**context, "secret": secret, "new": False})
    if request.headers.get("HX-Request"):
        return render(request, "webhooks/_deliveries.html", context)
    return render(request, "webhooks/endpoint.html", context)


@router.get("/webhooks/{endpoint_id}")
def endpoint_page(
    request: Request, engine: EngineDep, endpoint_id: str, status: str = ""
) -> HTMLResponse:
    """An endpoint, its secrets' ages and its deliveries (an htmx filter gets only the table)."""
    return _endpoint_page(request, engine, webhooks.get_endpoint(engine, endpoint_id), status)


@router.post("/webhooks/{endpoint_id}/enable")
def enable(engine: EngineDep, endpoint_id: str) -> Response:
    webhooks.enable(engine, endpoint_id)
    return RedirectResponse(f"/admin/webhooks/{endpoint_id}", status_code=303)


@router.post("/webhooks/{endpoint_id}/disable")
def disable(
    engine: EngineDep, endpoint_id: str, reason: Annotated[str, Form(max_length=512)] = ""
) -> Response:
    webhooks.disable(engine, endpoint_id, reason.strip() or None)
    return RedirectResponse(f"/admin/webhooks/{endpoint_id}", status_code=303)


@router.post("/webhooks/{endpoint_id}/rotate-secret")
def rotate_secret(request: Request, engine: EngineDep, endpoint_id: str) -> HTMLResponse:
    """A new secret, shown on the page that answers; the old one keeps signing for a day."""
    rotated = webhooks.rotate_secret(engine, endpoint_id)
    return _endpoint_page(request, engine, rotated.endpoint, "", secret=rotated.secret)


@router.get("/webhooks/deliveries/{delivery_id}")
def delivery_attempts(
    request: Request, engine: EngineDep, session: Session, delivery_id: str
) -> HTMLResponse:
    """A delivery's attempts: a page, or the rows htmx expands under the delivery.

    The start of each answer is shown to a session with a write key only.
    """
    found = webhooks.attempts(engine, delivery_id, with_excerpts=session.scope == WRITE_SCOPE)
    context = {"nav": "webhooks", "delivery_id": delivery_id, "attempts": found}
    if request.headers.get("HX-Request"):
        return render(request, "webhooks/_attempts.html", context)
    return render(request, "webhooks/delivery.html", context)


@router.post("/webhooks/deliveries/{delivery_id}/replay")
def replay(request: Request, engine: EngineDep, delivery_id: str) -> Response:
    """Send a delivery's event again; htmx swaps the delivery's row to say it is queued."""
    return _act_on_delivery(request, engine, delivery_id, webhooks.replay, retried=False)


@router.post("/webhooks/deliveries/{delivery_id}/retry")
def retry_now(request: Request, engine: EngineDep, delivery_id: str) -> Response:
    """Attempt a failing delivery at once (its endpoint was fixed); htmx swaps in the outcome."""
    return _act_on_delivery(request, engine, delivery_id, webhooks.retry_now, retried=True)


def _act_on_delivery(
    request: Request,
    engine: Engine,
    delivery_id: str,
    action: Callable[[Engine, str], Delivery],
    *,
    retried: bool,
) -> Response:
    """Replay or retry a delivery: htmx gets the outcome in the row, a plain form a redirect."""
    htmx = bool(request.headers.get("HX-Request"))
    try:
        done = action(engine, delivery_id)
    except (Conflict, Invalid) as exc:
        if not htmx:
            raise PortalError(409, str(exc)) from None
        # htmx swaps only 2xx answers: the refusal is shown in the row all the same.
        request.state.answered_refusal = True
        return render(
            request,
            "webhooks/_replayed.html",
            {"delivery_id": delivery_id, "again": None, "message": str(exc)},
        )
    if htmx:
        return render(
            request,
            "webhooks/_replayed.html",
            {"delivery_id": delivery_id, "again": done, "retried": retried, "message": None},
        )
    return RedirectResponse(f"/admin/webhooks/{done.endpoint_id}", status_code=303)
