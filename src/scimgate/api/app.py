"""The ASGI application: SCIM routes, error handling, and the process-wide engine."""

import asyncio
import gc
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from scim2_models import PayloadTooLargeException, SCIMException
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from scimgate import __version__
from scimgate.admin import install as install_portal
from scimgate.admin import too_large_page
from scimgate.admin.errors import (
    http_error_page,
    in_portal,
    invalid_parameters_page,
    refusal_page,
)
from scimgate.admin.guard import PortalGate
from scimgate.api.admin_keys import router as admin_keys_router
from scimgate.api.app_state import AppState
from scimgate.api.attribute_mappings import router as attribute_mappings_router
from scimgate.api.audit_log import router as audit_log_router
from scimgate.api.body_limits import BodyCap, ClosedAfterUnreadBody, Family
from scimgate.api.directories import router as directories_router
from scimgate.api.endpoint_case import SCIM_PREFIX
from scimgate.api.errors import as_scim
from scimgate.api.events import router as events_router
from scimgate.api.google_directories import router as google_directories_router
from scimgate.api.google_notifications import router as google_notifications_router
from scimgate.api.invalid_requests import invalid_request
from scimgate.api.logs import router as logs_router
from scimgate.api.lookup import router as lookup_router
from scimgate.api.loop_turns import posted
from scimgate.api.management import router as management_router
from scimgate.api.management_gate import ManagementGate
from scimgate.api.oauth_clients import router as oauth_clients_router
from scimgate.api.oauth_token import TokenServer
from scimgate.api.oauth_token import router as oauth_token_router
from scimgate.api.observability import router as observability_router
from scimgate.api.openapi_errors import with_refusals
from scimgate.api.organizations import router as organizations_router
from scimgate.api.request_id import RequestIds
from scimgate.api.responses import error_response, http_error
from scimgate.api.role_rules import router as role_rules_router
from scimgate.api.scim_pipeline import ScimPipeline
from scimgate.api.security_headers import SecurityHeaders
from scimgate.api.setup_links import router as setup_links_router
from scimgate.api.tokens import router as tokens_router
from scimgate.api.unexpected import UnexpectedErrors
from scimgate.api.webhooks import router as webhooks_router
from scimgate.config import Settings
from scimgate.logging import configure as configure_logging
from scimgate.service.errors import ServiceError
from scimgate.service.provisioning.credentials import Credentials
from scimgate.service.provisioning.rate_limits import RateLimiter
from scimgate.store.checkpoints import checkpoints_apart
from scimgate.store.engine import close_connections, open_engine
from scimgate.store.errors import Busy

log = structlog.get_logger("scimgate")


class _Application(FastAPI):
    """FastAPI for every route but SCIM's, whose requests go straight to their pipeline."""

    scim: ScimPipeline

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            self.openapi_schema = with_refusals(super().openapi())
        return self.openapi_schema

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(SCIM_PREFIX):
            scope["app"] = self
            await self.scim(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(
    settings: Settings | None = None, *, on_shutdown: Callable[[], None] | None = None
) -> FastAPI:
    """Build the application for a settings object (from the environment when none is given).

    The database must already be migrated: ``scimgate serve`` and ``scimgate
    migrate`` do that. ``on_shutdown`` runs (in a thread) once the server has
    answered its last request.
    """
    settings = settings or Settings.from_env()
    if not structlog.is_configured():  # served by uvicorn directly, not by ``scimgate serve``
        configure_logging(json=not sys.stderr.isatty())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        engine = app.state.engine
        on_the_loop = posted(engine, asyncio.get_running_loop())
        with _collector_for_serving(), checkpoints_apart(engine, on_the_loop):
            yield
            # The last requests have ended: their provisioning-log entries are still queued.
            await app.scim.log.drain()
        app.scim.threads.close()
        if on_shutdown is not None:
            await run_in_threadpool(on_shutdown)
        # Last: on SQLite, closing the last connection folds the WAL into the database file.
        app.state.credentials.close()
        close_connections(engine)

    app = _Application(
        title="scimgate", version=__version__, docs_url=None, redoc_url=None, lifespan=lifespan
    )
    app.state = AppState()
    app.state.settings = settings
    app.state.engine = open_engine(settings.database_url, settings.pool, settings.encryption_keys)
    app.state.rate_limiter = RateLimiter(app.state.engine, settings.rate_limits)
    app.state.credentials = Credentials(app.state.engine)
    app.state.token_server = TokenServer(app.state.engine)
    # Before the management routes, whose /users/{user_id} would take /users/lookup.
    app.include_router(lookup_router)
    app.include_router(management_router)
    app.include_router(events_router)
    app.include_router(webhooks_router)
    app.include_router(organizations_router)
    app.include_router(directories_router)
    app.include_router(google_directories_router)
    app.include_router(google_notifications_router)
    app.include_router(tokens_router)
    app.include_router(oauth_clients_router)
    app.include_router(oauth_token_router)
    app.include_router(attribute_mappings_router)
    app.include_router(role_rules_router)
    app.include_router(admin_keys_router)
    app.include_router(audit_log_router)
    app.include_router(logs_router)
    app.include_router(setup_links_router)
    app.include_router(observability_router)
    install_portal(app)

    app.add_exception_handler(SCIMException, _refusal)
    app.add_exception_handler(Busy, _refusal)
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    # Requests under /scim/v2/ take their own pipeline, which does for them what the
    # middlewares do (``api.scim_pipeline``); the middlewares serve every other route.
    app.scim = ScimPipeline(
        Family(SCIM_PREFIX, settings.limits.max_payload_bytes, _too_large), settings.log
    )
    # Outermost last. The body cap is inside the gates of the management API and the
    # portal, which answer anonymous clients before any read; a refusal that leaves a body
    # unread closes the connection. All are inside the error catcher, which never sees a
    # refusal of the cap.
    app.add_middleware(
        BodyCap,
        families=[
            Family("/admin", settings.body_limits.portal, too_large_page),
            Family("/setup", settings.body_limits.portal, too_large_page),
        ],
        fallback=Family("/", settings.body_limits.management, _too_large),
    )
    app.add_middleware(PortalGate)
    app.add_middleware(ManagementGate)
    app.add_middleware(ClosedAfterUnreadBody)
    app.add_middleware(UnexpectedErrors)
    app.add_middleware(RequestIds)
    app.add_middleware(SecurityHeaders)
    return app


YOUNG_COLLECTION = 10_000
"""Allocations between two passes over the youngest objects while the application serves
(Python's default is 700)."""


@contextmanager
def _collector_for_serving() -> Iterator[None]:
    """Leave what the process built to start (schemas, models, tables, compiled statements:
    objects that live as long as it does) out of the garbage collector's passes, and pass
    over the youngest objects less often.

    A full pass walked everything built to start, tens of milliseconds during which the
    event loop answered nothing: under wrk, W2's p99 fell from about 80 to 12 ms and W1's
    from 55 to 21 ms once it was frozen. A request allocates thousands of objects that die
    with it, so at Python's default the youngest generation was passed over several times
    a request: at ``YOUNG_COLLECTION``, a lookup in process went from 192-193 to 186-187 µs
    of CPU (the least of 20 rounds of 400, three pairs). Both are undone when the
    application stops, so that a process that builds several applications (the tests) can
    still collect the ones it dropped.
    """
    gc.collect()
    gc.freeze()
    threshold = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def _too_large(_: Scope, detail: str) -> Response:
    return error_response(PayloadTooLargeException(detail=detail))


async def _refusal(_: Request, exc: Any) -> Response:
    return error_response(as_scim(exc))


async def _service_error(request: Request, exc: Any) -> Response:
    """A refusal of the service: an error page in the portal, a SCIM error anywhere else."""
    if in_portal(request.url.path):
        return refusal_page(request, exc)
    return error_response(as_scim(exc))


async def _http_error(request: Request, exc: Any) -> Response:
    if in_portal(request.url.path):
        return http_error_page(request, exc.status_code)
    return http_error(exc.status_code, str(exc.detail))


async def _validation_error(request: Request, exc: Any) -> Response:
    if in_portal(request.url.path):
        return invalid_parameters_page(request, exc.errors())
    return error_response(invalid_request(exc.errors()))
