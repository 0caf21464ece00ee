"""A directory's pages: its overview and tokens, its users and groups, one user's history.

Any admin may open any directory; a user or group is always looked up within
the directory its address names. A rotated token is shown in the answer to
the rotation and never again.
"""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Engine

from scimgate.admin.guard import admin_guard
from scimgate.admin.web import PortalError, render
from scimgate.api.engine import EngineDep
from scimgate.api.public_root import public_root
from scimgate.records import frozen
from scimgate.service.administration import google_directories, oauth_clients, tenants
from scimgate.service.administration.oauth_clients import IssuedClient
from scimgate.service.event_stream import held_review, publishing
from scimgate.service.portal import dashboard, directory_browser
from scimgate.store.ids import utcnow

router = APIRouter(
    prefix="/admin", include_in_schema=False, dependencies=[Depends(admin_guard, scope="function")]
)

PAGE_SIZE = 50
SearchText = Annotated[str, Query(max_length=200)]
Start = Annotated[int, Query(ge=1, le=2**62)]


@frozen
class SearchQuery:
    """What a users or groups page is asked for: the text searched for, the first position."""

    q: SearchText = ""
    start: Start = 1


Search = Annotated[SearchQuery, Depends()]


def _fragment(request: Request) -> bool:
    """An htmx request for the results region only (not a history restore, which wants a page)."""
    return bool(
        request.headers.get("HX-Request") and not request.headers.get("HX-History-Restore-Request")
    )


_SEARCHES: dict[str, Callable[..., directory_browser.Browsed[Any]]] = {
    "users": directory_browser.search_users,
    "groups": directory_browser.search_groups,
}
"""What each search page lists, by its tab (which also names its templates)."""


def _search_page(
    request: Request, engine: Engine, directory_id: str, tab: str, search: SearchQuery
) -> Response:
    """A page of the directory's users or groups matching the search; to htmx, its results alone."""
    found = _SEARCHES[tab](
        engine, directory_id, public_root(request), search.q, start=search.start, size=PAGE_SIZE
    )
    context = {
        "nav": "dashboard",
        "tab": tab,
        "directory": found.directory,
        "q": search.q,
        "page": found.page,
    }
    template = f"directory/_{tab}_results.html" if _fragment(request) else f"directory/{tab}.html"
    return render(request, template, context)


def _detail_page(
    request: Request,
    noun: str,
    found: directory_browser.UserDetail | directory_browser.GroupDetail | None,
) -> Response:
    """One user's or group's page (``noun``), under its tab; a 404 if the directory has none."""
    if found is None:
        raise PortalError(404, f"No such {noun} in this directory.")
    return render(
        request,
        f"directory/{noun}.html",
        {"nav": "dashboard", "tab": f"{noun}s", "directory": found.directory, "detail": found},
    )


@router.get("/directories/{directory_id}")
def directory_page(request: Request, engine: EngineDep, directory_id: str) -> Response:
    found = dashboard.directory_overview(engine, directory_id)
    return render(
        request,
        "directory/overview.html",
        {
            "nav": "dashboard",
            "tab": "overview",
            "directory": found.health.directory,
            "health": found.health,
            "tokens": found.tokens,
            "oauth_clients": found.oauth_clients,
            "google": found.google,
            "delegation_scopes": google_directories.delegation_scopes(),
            "scim_base_url": f"{public_root(request)}/scim/v2/{directory_id}",
            "held": (
                held_review.review(engine, directory_id)
                if found.health.directory.delivery != "live"
                else None
            ),
        },
    )


@router.post("/directories/{directory_id}/google/sync")
def sync_google_now(engine: EngineDep, directory_id: str) -> Response:
    """Make a pulled directory's sync due now: the next free worker runs it."""
    google_directories.sync_soon(engine, directory_id)
    return RedirectResponse(f"/admin/directories/{directory_id}", status_code=303)


@router.post("/directories/{directory_id}/google/allow-empty")
def allow_google_empty(
    engine: EngineDep, directory_id: str, confirm: Annotated[str, Form(max_length=20)] = ""
) -> Response:
    """Let the next sync deprovision everyone if Google lists nobody in scope. Asks for a
    ticked confirmation."""
    if confirm != "empty":
        raise PortalError(
            400,
            "Tick the box to confirm: if Google still lists nobody in scope, the next sync "
            "deprovisions every user of the directory.",
        )
    google_directories.allow_empty(engine, directory_id)
    return RedirectResponse(f"/admin/directories/{directory_id}", status_code=303)


@router.post("/directories/{directory_id}/held/release")
def release_held(engine: EngineDep, directory_id: str) -> Response:
    """Publish the held events in their order; delivery is live again."""
    publishing.release(engine, directory_id)
    return RedirectResponse(f"/admin/directories/{directory_id}", status_code=303)


@router.post("/directories/{directory_id}/held/discard")
def discard_held(
    engine: EngineDep, directory_id: str, confirm: Annotated[str, Form(max_length=20)] = ""
) -> Response:
    """Drop the held events: the app is never told of them. Asks for a ticked confirmation."""
    if confirm != "discard":
        raise PortalError(
            400, "Tick the box to confirm: the app will never be told of the held changes."
        )
    publishing.discard(engine, directory_id)
    return RedirectResponse(f"/admin/directories/{directory_id}", status_code=303)


@router.post("/directories/{directory_id}/tokens/rotate")
def rotate_token(
    request: Request,
    engine: EngineDep,
    directory_id: str,
    name: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    label = name.strip() or f"rotated {utcnow().date()}"
    if len(label) > 200 or not label.isprintable():
        raise PortalError(422, "A token's name must be 1 to 200 characters, without line breaks.")
    issued = tenants.create_token(engine, directory_id, label)
    return render(
        request,
        "directory/token_rotated.html",
        {"nav": "dashboard", "directory_id": directory_id, "token": issued},
        status=201,
    )


@router.post("/directories/{directory_id}/tokens/{token_id}/revoke")
def revoke_token(engine: EngineDep, directory_id: str, token_id: str) -> Response:
    revoked = tenants.revoke_token(engine, directory_id, token_id)
    if not revoked:
        raise PortalError(404, "No such active token in this directory.")
    return RedirectResponse(f"/admin/directories/{directory_id}", status_code=303)


@router.post("/directories/{directory_id}/oauth-clients")
def create_oauth_client(
    request: Request,
    engine: EngineDep,
    directory_id: str,
    name: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    label = name.strip() or "OAuth client"
    if len(label) > 200 or not label.isprintable():
        raise PortalError(422, "A client's name must be 1 to 200 characters, without line breaks.")
    issued = oauth_clients.create_client(engine, directory_id, label)
    return _oauth_client_page(request, directory_id, issued)


@router.post("/directories/{directory_id}/oauth-clients/{client_id}/rotate")
def rotate_oauth_client(
    request: Request, engine: EngineDep, directory_id: str, client_id: str
) -> Response:
    issued = oauth_clients.rotate_secret(engine, directory_id, client_id)
    if issued is None:
        raise PortalError(404, "No such active OAuth client in this directory.")
    return _oauth_client_page(request, directory_id, issued)


@router.post("/directories/{directory_id}/oauth-clients/{client_id}/revoke")
def revoke_oauth_client(engine: EngineDep, directory_id: str, client_id: str) -> Response:
    if not oauth_clients.revoke_client(engine, directory_id, client_id):
        raise PortalError(404, "No such active OAuth client in this directory.")
    return RedirectResponse(f"/admin/directories/{directory_id}", status_code=303)


def _oauth_client_page(request: Request, directory_id: str, issued: IssuedClient) -> Response:
    """A client's secret, on this page only."""
    return render(
        request,
        "directory/oauth_client_issued.html",
        {
            "nav": "dashboard",
            "directory_id": directory_id,
            "issued": issued,
            "token_endpoint": f"{public_root(request)}/oauth/token",
        },
        status=201,
    )


@router.get("/directories/{directory_id}/users")
def users_page(request: Request, engine: EngineDep, directory_id: str, search: Search) -> Response:
    return _search_page(request, engine, directory_id, "users", search)


@router.get("/directories/{directory_id}/users/{user_id}")
def user_page(request: Request, engine: EngineDep, directory_id: str, user_id: str) -> Response:
    found = directory_browser.user_detail(engine, directory_id, user_id, public_root(request))
    return _detail_page(request, "user", found)


@router.get("/directories/{directory_id}/groups")
def groups_page(request: Request, engine: EngineDep, directory_id: str, search: Search) -> Response:
    return _search_page(request, engine, directory_id, "groups", search)


@router.get("/directories/{directory_id}/groups/{group_id}")
def group_page(
    request: Request, engine: EngineDep, directory_id: str, group_id: str, start: Start = 1
) -> Response:
    found = directory_browser.group_detail(
        engine, directory_id, group_id, public_root(request), start=start, size=PAGE_SIZE
    )
    return _detail_page(request, "group", found)
