"""The SCIM edge: routing, authentication, and at most one worker-thread hop per request.

SCIM requests do not go through FastAPI: its dependency injection, validation
layers and one thread hop per dependency cost more CPU than authenticating and
routing do. Here a request is matched to its handler (``api.scim_routes``), and
then, in one step, authenticated (from the process's token cache,
``service.provisioning.credentials``), admitted by the rate limiter, noted (activation,
recognised IdP: each writes once per directory), handled and rendered. That step
runs on the event loop for a short request on SQLite (``api.inline_requests``),
in a worker thread for any other; short writes are committed in groups
(``api.commit_groups``). Errors are mapped once, here, into the SCIM envelope.

A request with a body is authenticated before its body is read, so that an
anonymous client never makes the server read what it sends. A token this process
has already accepted skips that wait: when the body is declared, within the
limit and of a JSON media type, it is read first and everything else happens in
the one step (a token revoked since is still refused there, before any use of the
body). Any other request with a body takes a first hop to authenticate.

Reads write nothing here: the confirmations they make (``service.provisioning.confirmations``)
and the token's last-used time are left in the request's state for the provisioning
log, whose writer writes them with the request's entry.

The hop goes to the edge's own threads (``api.worker_threads``), not through
anyio's ``to_thread.run_sync``, which costs more CPU per call.
"""

import asyncio
from typing import Any

from scim2_models import SCIMException
from sqlalchemy import Engine
from starlette.datastructures import URL, Headers
from starlette.requests import ClientDisconnect, Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Send
from starlette.types import Scope as AsgiScope

from scimgate.api.clients import client_address
from scimgate.api.commit_groups import CommitGroups, InFlight
from scimgate.api.endpoint_case import SCIM_PREFIX, canonical_path
from scimgate.api.errors import REFUSALS, as_scim
from scimgate.api.inline_requests import is_short
from scimgate.api.public_root import public_root
from scimgate.api.requests import media_type_refusal
from scimgate.api.responses import ScimResponse, error_response
from scimgate.api.scim_routes import BODY_METHODS, ROUTES, Call, Handler, me
from scimgate.api.worker_threads import WorkerThreads
from scimgate.service.administration.tenants import note_client
from scimgate.service.provisioning import confirmations
from scimgate.service.provisioning.activation import note_activation
from scimgate.service.provisioning.rate_limits import admit
from scimgate.service.provisioning.scope import Scope
from scimgate.store.engine import takes_turns, turn_if_free
from scimgate.store.tenants import Directory

DIRECTORY_KEY = "directory"
"""Where the edge leaves the authenticated directory in the request's state, for the
provisioning log and the metrics: a request that did not authenticate has none."""

CONFIRMATIONS_KEY = "confirmations"
"""Where it leaves the confirmations of the request's reads, for the provisioning log."""

TOKEN_USE_KEY = "token_use"
"""Where it leaves the token's last-used time when it is due, for the provisioning log."""

ANSWER_KEY = "answer"
"""Where it leaves its answer's body with the value the body was written from, when it was
written from one, for the provisioning log: a body sent as it is need not be parsed back."""


class MethodNotAllowed(SCIMException):
    """A SCIM endpoint asked with a method it does not serve."""

    status = 405


class _Route:
    """A matched request: its directory id, handler and the segment after the endpoint."""

    def __init__(self, directory_id: str, handler: Handler, resource_id: str) -> None:
        self.directory_id = directory_id
        self.handler = handler
        self.resource_id = resource_id


def _candidates(path: str) -> tuple[str, list[tuple[dict[str, Handler], str]]]:
    """The directory id and the routes whose path template matches ``path`` (in order)."""
    parts = path[len(SCIM_PREFIX) :].split("/")
    if not 2 <= len(parts) <= 3 or not all(parts):
        return "", []
    directory_id, endpoint = parts[0], parts[1]
    if len(parts) == 2:
        found = ROUTES.get((endpoint, False))
        return directory_id, [(found, "")] if found else []
    segment = parts[2]
    matches = []
    if segment == ".search" and (searched := ROUTES.get((f"{endpoint}/.search", False))):
        matches.append((searched, ""))
    if by_id := ROUTES.get((endpoint, True)):
        matches.append((by_id, segment))
    return directory_id, matches


class ScimEdge:
    """Answers HTTP requests under ``/scim/v2/``; ``not_found`` those of no SCIM route."""

    def __init__(self, not_found: ASGIApp, threads: WorkerThreads) -> None:
        self.not_found = not_found
        self.threads = threads
        self._commit_groups: CommitGroups | None = None
        self.in_flight = InFlight()
        """The requests this edge is answering, which tell its commit groups whether to wait
        for more writes."""

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        self.in_flight.enter()
        try:
            path: str = scope["path"]
            canonical = canonical_path(path)
            if canonical != path:
                scope = {**scope, "path": canonical}
            answer = self._route(scope)
            if isinstance(answer, Response):
                await answer(scope, receive, send)
            elif answer is None:
                await self.not_found(scope, receive, send)
            else:
                response = await self._answer(scope, receive, answer)
                await response(scope, receive, send)
        finally:
            self.in_flight.leave()

    def _route(self, scope: AsgiScope) -> "_Route | Response | None":
        """The route of a request, or the answer when it has none (405, 307), or None (404)."""
        path: str = scope["path"]
        directory_id, candidates = _candidates(path)
        method: str = scope["method"]
        for handlers, resource_id in candidates:
            # HEAD is GET without the body (RFC 9110 §9.3.2): uvicorn leaves the body out.
            if (handler := handlers.get("GET" if method == "HEAD" else method)) is not None:
                return _Route(directory_id, handler, resource_id)
        if candidates:
            allowed = sorted({name for handlers, _ in candidates for name in handlers})
            allowed += ["HEAD"] if "GET" in allowed else []
            refusal = error_response(
                MethodNotAllowed(detail=f"{method} is not served here: use {', '.join(allowed)}")
            )
            refusal.headers["Allow"] = ", ".join(allowed)  # RFC 9110 §15.5.6
            return refusal
        if path.endswith("/") and _candidates(path.rstrip("/"))[1]:
            redirect = {**scope, "path": path.rstrip("/")}
            return RedirectResponse(str(URL(scope=redirect)))
        return None

    async def _answer(self, scope: AsgiScope, receive: Receive, route: _Route) -> Response:
        app: Any = scope["app"]
        state = app.state
        request = Request(scope, receive)
        takes_body = scope["method"] in BODY_METHODS and route.handler is not me
        if not takes_body:
            return await self._handled(state, request, route, b"")
        refusal = media_type_refusal(request.headers)  # given after the credentials' answer
        readable = refusal is None and _declared_within(request.headers, state)
        if readable and state.credentials.knows(request.headers.get("authorization")):
            try:
                body = await _body(receive)
            except ClientDisconnect:
                # A client that left is still logged as its directory's: authenticate it.
                await self.threads.run(_refusal, state, request, route)
                raise
            return await self._handled(state, request, route, body)
        refused = await self.threads.run(_refusal, state, request, route)
        if refused is not None:
            return refused
        if refusal is not None:
            return error_response(refusal)
        body = await _body(receive)
        return await self._handled(state, request, route, body)

    async def _handled(self, state: Any, request: Request, route: _Route, body: bytes) -> Response:
        """The handler's answer: on the event loop when the request is short and the database
        is SQLite (``api.inline_requests``), else in a worker thread.

        A short write is committed with the short writes that arrived beside it, once the
        write turn is free (``api.commit_groups``), waiting for it without holding the loop. A
        short read runs at once when the turn is free, and takes the hop when it is not, since
        a read needs no turn (only the rare write it makes).
        """
        if not is_short(route.handler, request.query_params, body) or not takes_turns(state.engine):
            return await self.threads.run(_handle, state, request, route, body)
        if request.method in BODY_METHODS:
            try:
                return await self._groups(state.engine).run(
                    lambda: _handle(state, request, route, body)
                )
            except REFUSALS as exc:  # the group's commit failed
                return error_response(as_scim(exc))
        with turn_if_free(state.engine) as ours:
            if ours:
                return _handle(state, request, route, body)
        return await self.threads.run(_handle, state, request, route, body)

    def _groups(self, engine: Engine) -> CommitGroups:
        """The commit groups of the running loop (a test may run the app on several)."""
        loop = asyncio.get_running_loop()
        if self._commit_groups is None or self._commit_groups.loop is not loop:
            self._commit_groups = CommitGroups(engine, loop, self.in_flight)
        return self._commit_groups


async def _body(receive: Receive) -> bytes:
    """The request's body, read once (the handlers are given it): what Starlette's
    ``Request.body`` reads, without its stream's async generator (about 2 µs a request)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _declared_within(headers: Headers, state: Any) -> bool:
    """Whether the body's length is declared and within the SCIM limit (so reading it first
    cannot turn an answer about credentials into a 413)."""
    declared = headers.get("content-length", "")
    return declared.isdigit() and int(declared) <= state.settings.limits.max_payload_bytes


def _handle(state: Any, request: Request, route: _Route, body: bytes) -> Response:
    """Authenticate (unless a first hop did), handle and render: on the loop or in a thread."""
    try:
        scope = _authenticated(state, request, route.directory_id)
        with confirmations.deferred() as confirmed:
            response = route.handler(Call(request, scope, body, route.resource_id))
        if confirmed:
            request.scope["state"][CONFIRMATIONS_KEY] = confirmed
        if isinstance(response, ScimResponse) and response.document is not None:
            request.scope["state"][ANSWER_KEY] = (response.body, response.document)
        return response
    except REFUSALS as exc:
        return error_response(as_scim(exc))


def _refusal(state: Any, request: Request, route: _Route) -> Response | None:
    """In a worker thread, before a body is read: the answer refusing the request's
    credentials, or None once it authenticated."""
    try:
        _authenticated(state, request, route.directory_id)
    except REFUSALS as exc:
        return error_response(as_scim(exc))
    return None


def _authenticated(state: Any, request: Request, directory_id: str) -> Scope:
    """The scope of a request whose token opens the directory in its URL, within its limits."""
    known: Directory | None = request.scope.setdefault("state", {}).get(DIRECTORY_KEY)
    if known is not None:  # authenticated by a first hop, before its body arrived
        directory, confirmed_stamp = known, None
    else:
        credential = admit(
            state.credentials,
            state.rate_limiter,
            directory_id,
            request.headers.get("authorization"),
            client_address(request.scope),
        )
        directory = credential.directory
        if credential.use is not None:
            request.scope["state"][TOKEN_USE_KEY] = credential.use
        changed = directory.activated_at is None and note_activation(state.engine, directory)
        if directory.idp_detected is None:
            changed |= note_client(
                state.engine,
                directory,
                request.headers.get("user-agent"),
                list(request.query_params.keys()),
            )
        # The stamp read just now confirmed the directory, unless these notes changed it.
        confirmed_stamp = None if changed else credential.stamp
        request.scope["state"][DIRECTORY_KEY] = directory
    return Scope(
        engine=state.engine,
        directory=directory,
        base_url=f"{public_root(request)}/scim/v2/{directory.id}",
        limits=state.settings.limits,
        confirmed_stamp=confirmed_stamp,
    )
