"""The management API the application calls: its directories' users and drift, normalized.

It is opened by an admin key or by the operator's admin token
(``SCIMGATE_ADMIN_TOKEN``), never by a directory's SCIM token. A ``read`` key
may only look; every other request is written to the audit log, refused or not
(refused credentials by ``ManagementGate``, one row per address and reason a minute).
"""

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict, replace
from http import HTTPStatus
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from scim2_models import (
    ForbiddenException,
    NotFoundException,
    UnauthorizedException,
)
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from scimgate.api.bounds import AgeHours, UtcDateTime
from scimgate.api.engine import EngineDep
from scimgate.api.errors import REFUSALS, as_scim
from scimgate.api.management_gate import ACTOR_KEY
from scimgate.api.public_root import public_root
from scimgate.records import frozen
from scimgate.service.administration import audit
from scimgate.service.administration.admin_keys import READ_METHODS, Actor
from scimgate.service.administration.directory_view import directory_groups, directory_users
from scimgate.service.portal.directory_browser import (
    Browsed,
    GroupRow,
    UserRow,
    group_detail,
    search_groups,
    search_users,
    user_detail,
)
from scimgate.service.provisioning import confirmations

bearer = HTTPBearer(
    auto_error=False,
    description="An admin key (`scimgate keys create`) or the operator's SCIMGATE_ADMIN_TOKEN",
)
"""Declares the bearer scheme in the OpenAPI document; ``require_admin`` checks it."""


def note_target(
    request: Request,
    target_type: str,
    target_id: str,
    *,
    organization_id: str | None = None,
    detail: str | None = None,
) -> None:
    """Name what a handler acted on when the path does not (a resource it just created)."""
    request.state.audit_target = (target_type, target_id, organization_id)
    if detail is not None:
        request.state.audit_detail = detail


async def _audited(request: Request, engine: EngineDep) -> AsyncIterator[None]:
    """Append an audit row for a mutating request once its handler has answered or failed.

    Handlers signal failure by raising, so a handler that returns succeeded.
    Refused credentials never get here: ``ManagementGate`` counts them.
    """
    if request.method in READ_METHODS:
        yield
        return
    outcome, detail = "ok", None
    try:
        yield
    except REFUSALS as exc:
        refusal = as_scim(exc)
        outcome, detail = _failure(int(refusal.status or 500), refusal.detail)
        raise
    except HTTPException as exc:
        outcome, detail = _failure(exc.status_code, None)
        raise
    except RequestValidationError:
        outcome, detail = "refused", "Invalid request parameters or body"
        raise
    except Exception:
        outcome, detail = "error", "Internal error"
        raise
    finally:
        action = _action(request, outcome, detail)
        await run_in_threadpool(audit.record, engine, action)


def _failure(status: int, reason: str | None) -> tuple[str, str]:
    """The outcome and detail of a failed request.

    Only the fixed reasons of refused credentials are kept: other reasons may
    quote the request, which the audit log never holds.
    """
    outcome = "error" if status >= 500 else "refused"
    if status in (401, 403) and reason:
        return outcome, f"{status}: {reason}"
    try:
        return outcome, f"{status}: {HTTPStatus(status).phrase}"
    except ValueError:
        return outcome, str(status)


def _action(request: Request, outcome: str, detail: str | None) -> audit.Action:
    route = request.scope.get("route")
    actor: Actor | None = getattr(request.state, ACTOR_KEY, None)
    action = audit.route_action(
        actor.label if actor is not None else "unauthenticated",
        request.method,
        getattr(route, "path", request.url.path),
        request.path_params,
        outcome,
    )
    noted = getattr(request.state, "audit_target", None)
    if noted is not None:
        target_type, target_id, organization_id = noted
        action = replace(
            action,
            target_type=target_type,
            target_id=target_id,
            organization_id=organization_id or action.organization_id,
        )
    return replace(action, detail=detail or getattr(request.state, "audit_detail", None))


async def require_admin(
    request: Request,
    _audit: Annotated[None, Depends(_audited, scope="function")],
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """Let the actor the gate accepted through; a ``read`` key asking to change anything is a 403.

    ``ManagementGate`` has checked the credentials before the body was read, and
    answered 401 to unknown or revoked ones. The actor is kept on
    ``request.state.admin_actor``.
    """
    actor: Actor | None = getattr(request.state, ACTOR_KEY, None)
    if actor is None:
        raise UnauthorizedException(detail="The management API is open only behind its gate")
    if not actor.may(request.method):
        raise ForbiddenException(detail="This admin key is read-only: it may only use GET and HEAD")


router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_admin)])


Count = Annotated[int, Query(ge=0, le=1000)]
StartIndex = Annotated[int, Query(alias="startIndex", ge=1, le=2**62)]


Search = Annotated[
    str | None,
    Query(max_length=200, description="Keep those whose names (or e-mails) contain this text"),
]


@frozen
class Paging:
    """The query of a page of users or groups: its size, its first position, a search."""

    count: Count = 100
    start_index: StartIndex = 1
    q: Search = None


PageQuery = Annotated[Paging, Depends()]


Row = TypeVar("Row")


@frozen
class _Listed(Generic[Row]):
    """How a page of users or groups is read: searched for ``q``, else from the normalized view."""

    plural: str
    """The key of the answer's items, e.g. ``users``."""
    search: Callable[..., Browsed[Row]]
    searched: Callable[[Row], dict[str, Any]]
    """A search's row as the answer shows it."""
    view: Callable[..., tuple[int, Sequence[Any]]]

    def answer(
        self, request: Request, engine: Engine, directory_id: str, query: Paging
    ) -> JSONResponse:
        root = public_root(request)
        start, count = query.start_index, query.count
        if query.q:
            found = self.search(engine, directory_id, root, query.q, start=start, size=count).page
            items = [self.searched(row) for row in found.items]
            return json_response({"total": found.total, self.plural: items})
        total, listed = self.view(engine, directory_id, root, count=count, start_index=start)
        return json_response({"total": total, self.plural: [asdict(item) for item in listed]})


_USERS = _Listed[UserRow]("users", search_users, lambda row: asdict(row.user), directory_users)
_GROUPS = _Listed[GroupRow](
    "groups",
    search_groups,
    lambda row: {**asdict(row.group), "member_count": row.members},
    directory_groups,
)


@router.get("/directories/{directory_id}/users")
def list_users(
    request: Request, engine: EngineDep, directory_id: str, page: PageQuery
) -> JSONResponse:
    """A page of the directory's users in the normalized shape, whichever IdP sent them.

    ``q`` keeps the users whose userName, name or e-mail contains it, in any case.
    """
    return _USERS.answer(request, engine, directory_id, page)


@router.get("/directories/{directory_id}/users/{user_id}")
def get_user(request: Request, engine: EngineDep, directory_id: str, user_id: str) -> JSONResponse:
    """One user of the directory in the normalized shape."""
    found = user_detail(engine, directory_id, user_id, public_root(request))
    if found is None:
        raise NotFoundException(detail=f"No user {user_id} in directory {directory_id}")
    return json_response(asdict(found.user))


@router.get("/directories/{directory_id}/groups")
def list_groups(
    request: Request, engine: EngineDep, directory_id: str, page: PageQuery
) -> JSONResponse:
    """A page of the directory's groups in the normalized shape.

    ``q`` keeps the groups whose name or IdP id contains it, in any case.
    """
    return _GROUPS.answer(request, engine, directory_id, page)


@router.get("/directories/{directory_id}/groups/{group_id}")
def get_group(
    request: Request,
    engine: EngineDep,
    directory_id: str,
    group_id: str,
    count: Count = 100,
    start_index: StartIndex = 1,
) -> JSONResponse:
    """One group of the directory, with a page of its members (``count``, ``startIndex``)."""
    found = group_detail(
        engine, directory_id, group_id, public_root(request), start=start_index, size=count
    )
    if found is None:
        raise NotFoundException(detail=f"No group {group_id} in directory {directory_id}")
    members = [asdict(member) for member in found.members.items]
    return json_response(
        {**asdict(found.group), "member_count": found.members.total, "members": members}
    )


@router.get("/directories/{directory_id}/drift")
def drift(
    engine: EngineDep,
    directory_id: str,
    since: UtcDateTime | None = None,
    older_than_hours: AgeHours | None = None,
) -> JSONResponse:
    """Users and groups the IdP has not confirmed since a time: missed deprovisionings."""
    cutoff = confirmations.drift_cutoff(since, older_than_hours)
    found = confirmations.drift_report(engine, directory_id, cutoff)
    return json_response({"since": cutoff, "resources": [asdict(item) for item in found]})


def json_response(payload: Any) -> JSONResponse:
    return JSONResponse(jsonable_encoder(payload))
