"""A request id for every request: in the logs, the answer's headers and error details.

The middleware also writes the access log line and counts SCIM requests in the
application's metrics, since it is the one place every request passes (SCIM
requests pass the same functions in their own pipeline, ``api.scim_pipeline``).
Both happen when the answer starts, before the client can see it.
"""

import re
import time
import uuid

import structlog
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scimgate.api.observability import metrics_of
from scimgate.logging import info_line
from scimgate.service.administration.tenants import effective_idp
from scimgate.store.ids import new_id
from scimgate.store.tenants import Directory

HEADER = "X-Request-Id"
_RAW_HEADER = HEADER.lower().encode("latin-1")
WELL_FORMED = re.compile(r"[A-Za-z0-9._:@+=-]{1,64}")
"""An id a client or proxy may choose; anything else is replaced, never logged as given."""

SCIM_PATH = re.compile(r"/scim/v2/([^/]+)")
DIRECTORY_PATH = re.compile(r"/(?:scim/v2|api/v1/directories)/([^/]+)")

SECRET_MARK = "scimgate_"
SECRET_IN_PATH = re.compile(SECRET_MARK + r"[A-Za-z0-9_-]+")
"""A secret some paths carry (a setup link's): logged as ``[secret]``."""

access_log = structlog.get_logger("scimgate.access")


class RequestIds:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        started = time.perf_counter()

        async def answering(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message["headers"] = list(message.get("headers", ()))
                set_header(headers, request_id)
                observe(scope, message["status"], time.perf_counter() - started)
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            await self.app(scope, receive, answering)


def request_id_of(scope: Scope) -> str:
    """The request's id (the client's, when well-formed, or a new one), left in its state."""
    request_id = _incoming(scope) or new_id()
    scope.setdefault("state", {})["request_id"] = request_id
    return request_id


def set_header(headers: list[tuple[bytes, bytes]], request_id: str) -> None:
    """Put the request id in an answer's raw headers, in place of any the answer set."""
    found = [index for index, (name, _) in enumerate(headers) if name == _RAW_HEADER]
    item = (_RAW_HEADER, request_id.encode("latin-1"))
    if not found:
        headers.append(item)
        return
    headers[found[0]] = item
    for index in reversed(found[1:]):
        del headers[index]


def _incoming(scope: Scope) -> str | None:
    """The client's request id, when it sent a well-formed one."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            given = value.decode("latin-1")
            return given if WELL_FORMED.fullmatch(given) else None
    return None


def _directory_in(path: str, pattern: re.Pattern[str]) -> str | None:
    """The directory id a path names, when the path has one shaped like an id."""
    found = pattern.match(path)
    if found is None:
        return None
    try:
        return str(uuid.UUID(found.group(1)))
    except ValueError:
        return None


def observe(scope: Scope, status: int, seconds: float) -> None:
    """Log the request (never its query string or headers) and count it when it is SCIM."""
    method, path = scope["method"], scope["path"]
    # Set once a request authenticated for its directory (the SCIM edge): the id its path
    # names, already read.
    directory: Directory | None = scope.get("state", {}).get("directory")
    info_line(
        access_log,
        "request",
        method=method,
        path=SECRET_IN_PATH.sub("[secret]", path) if SECRET_MARK in path else path,
        status=status,
        latency_ms=round(seconds * 1000, 1),
        directory_id=directory.id if directory else _directory_in(path, DIRECTORY_PATH),
    )
    if SCIM_PATH.match(path) is None:
        return
    # Only a request that authenticated for its directory labels a series with it, so
    # made-up ids in URLs cannot grow the number of series.
    app: Starlette = scope["app"]
    metrics_of(app).observe_scim(
        directory.id if directory else None,
        effective_idp(directory).value if directory else None,
        method,
        status,
        seconds,
    )
