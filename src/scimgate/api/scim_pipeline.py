"""What every SCIM request passes, in one wrapper around the SCIM edge.

SCIM requests skip FastAPI and the middlewares of the other routes: each of
those wraps the request's ``send`` and ``receive`` again, and together they
cost more CPU than a lookup's query. The concerns that apply to SCIM are done
here, by the same functions the middlewares call, in the order the
middlewares had: security headers, the request id (with the access log line
and the metrics), the provisioning log, unexpected errors, ``Connection:
close`` after an unread body, and the body cap, checked at the first read.
"""

import time

import structlog
from starlette.types import Message, Receive, Scope, Send

from scimgate.api.body_limits import CappedBody, Family, announces_body, closing
from scimgate.api.provisioning_log import ProvisioningLog
from scimgate.api.request_id import observe, request_id_of, set_header
from scimgate.api.responses import http_error
from scimgate.api.scim_edge import ScimEdge
from scimgate.api.security_headers import add_api_headers
from scimgate.api.unexpected import answer_unexpected
from scimgate.api.worker_threads import WorkerThreads
from scimgate.config import LogPolicy


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    """A SCIM path with no route: the 404 FastAPI's router gives any other path."""
    await http_error(404, "Not Found")(scope, receive, send)


class ScimPipeline:
    """Answers HTTP requests under ``/scim/v2/``, with ``cap`` on their bodies."""

    def __init__(self, cap: Family, log: LogPolicy) -> None:
        self.cap = cap
        self.threads = WorkerThreads()
        self.edge = ScimEdge(_not_found, self.threads)
        self.log = ProvisioningLog(log)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = request_id_of(scope)
        started = time.perf_counter()
        capture = self.log.capture(scope)
        capped = CappedBody(self.cap, scope)
        unread = announces_body(scope)

        async def reading() -> Message:
            nonlocal unread
            capped.check()
            message = await receive()
            if message["type"] == "http.request":
                capture.received(message)
                unread = unread and bool(message.get("more_body", False))
                capped.count(message)
            return message

        # Three ways out, each one coroutine that sends (an answer's two messages would
        # otherwise each pass through three nested ones): the edge's answer, past the cap;
        # the cap's 413; the 500 of an unexpected error.

        def recorded(message: Message) -> Message:
            """Every answer: captured, counted and logged, its headers added."""
            capture.sent(message)
            if message["type"] == "http.response.start":
                headers = message["headers"] = list(message.get("headers", ()))
                set_header(headers, request_id)
                observe(scope, message["status"], time.perf_counter() - started)
                add_api_headers(headers)
            return message

        def ending(message: Message) -> Message:
            """An answer that leaves a body unread closes the connection."""
            if unread and message["type"] == "http.response.start":
                message = closing(message)
            return recorded(message)

        async def answering(message: Message) -> None:
            if capped.passes(message):
                await send(ending(message))

        async def closed(message: Message) -> None:
            await send(ending(message))

        async def answered(message: Message) -> None:
            await send(recorded(message))

        # What structlog's ``bound_contextvars`` does, without its generator's context manager.
        bound = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await capped.running(self.edge(scope, reading, answering), scope, receive, closed)
        except Exception as exc:
            await answer_unexpected(exc, scope, receive, answered, started=capture.status != 0)
        finally:
            capture.finish()
            structlog.contextvars.reset_contextvars(**bound)
