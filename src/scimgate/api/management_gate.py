"""The management API's door: credentials are checked before anything of a request is read.

FastAPI reads and parses a route's body before it runs the route's
dependencies, so the check cannot be a dependency alone: an anonymous client
could make the server read (and hold) a body of any size to hear 401. Here,
a request to ``/api/v1`` without a valid admin key or admin token is answered
401 (429 once its client address has been refused too often) without a byte of
its body read, and the refusal is counted in the audit log's row for its address,
action and reason. The actor of an accepted request is handed to ``require_admin``.
"""

import re
from collections.abc import Sequence

from scim2_models import SCIMException, UnauthorizedException
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from scimgate.api.clients import client_address
from scimgate.api.responses import error_response
from scimgate.service.administration import admin_keys, audit
from scimgate.service.provisioning.rate_limits import RateLimiter

PREFIX = "/api/v1"
ACTOR_KEY = "admin_actor"
"""Where the gate leaves the accepted actor in the request's state."""

NO_ROUTE = f"request to no route of {PREFIX}"
"""The audited action of a refused request whose path names no management route."""


class _Template:
    """A management route's path template, to name a refused request by its route."""

    def __init__(self, template: str, methods: Sequence[str]) -> None:
        self.template = template
        self.pattern: re.Pattern[str] = compile_path(template)[0]
        self.methods = frozenset(method.upper() for method in methods)


class ManagementGate:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._templates: list[_Template] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        app: Starlette = scope["app"]
        try:
            actor = await run_in_threadpool(
                admin_keys.authenticate,
                app.state.engine,
                Headers(scope=scope).get("authorization"),
                app.state.settings.admin_token,
            )
        except UnauthorizedException as refused:
            answer = await run_in_threadpool(self._refuse, app, scope, refused)
            await error_response(answer)(scope, receive, send)
            return
        scope.setdefault("state", {})[ACTOR_KEY] = actor
        await self.app(scope, receive, send)

    def _refuse(
        self, app: Starlette, scope: Scope, refused: UnauthorizedException
    ) -> SCIMException:
        """Pace and audit refused credentials; the answer is 401, or 429 beyond the pace."""
        limiter: RateLimiter = app.state.rate_limiter
        client = client_address(scope)
        answer: SCIMException = refused
        try:
            limiter.check_refused(client)
        except SCIMException as too_many:
            answer = too_many
        reason = f"{answer.status}: {answer.detail}"
        audit.record_refusal(
            app.state.engine, audit.Refusal(client, self._action(app, scope), reason)
        )
        return answer

    def _action(self, app: Starlette, scope: Scope) -> str:
        """``POST /api/v1/organizations``: the route's template, never the raw path."""
        if self._templates is None:
            paths = app.openapi()["paths"] if hasattr(app, "openapi") else {}
            self._templates = [
                _Template(template, list(operations))
                for template, operations in paths.items()
                if template.startswith(PREFIX + "/")
            ]
        method, path = scope["method"], scope["path"]
        for template in self._templates:
            if method in template.methods and template.pattern.match(path):
                return f"{method} {template.template}"
        return NO_ROUTE
