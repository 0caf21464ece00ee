"""An unexpected exception answered with a SCIM 500, keeping the connection usable.

Starlette re-raises an exception after its 500 handler has answered, which
makes the server drop the client's keep-alive connection; the exception ends
here instead.

A client that closes the connection before its body has arrived is no server
error: the request ends as a 499, which the access log, the metrics and the
provisioning log record and which reaches nobody (the server drops what is
sent on a closed connection).
"""

import structlog
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scimgate.api.responses import http_error
from scimgate.logging import failure
from scimgate.service.portal.diagnosis import CLIENT_CLOSED_REQUEST

log = structlog.get_logger("scimgate")


class AnswerBroken(Exception):
    """An answer that failed after it had started; the error itself is logged already."""


class UnexpectedErrors:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            await answer_unexpected(exc, scope, receive, send, started=started)


async def answer_unexpected(
    exc: Exception, scope: Scope, receive: Receive, send: Send, *, started: bool
) -> None:
    """Answer an exception that ended a request (``started``: after its answer began)."""
    if isinstance(exc, ClientDisconnect):
        if not started:
            await send(
                {"type": "http.response.start", "status": CLIENT_CLOSED_REQUEST, "headers": []}
            )
            await send({"type": "http.response.body", "body": b""})
        return
    log.error(
        "unexpected error", method=scope.get("method"), path=scope.get("path"), **failure(exc)
    )
    if started:
        # The answer cannot be completed: the server must drop the connection. A bare
        # exception tells it so without its own log repeating the message.
        raise AnswerBroken from None
    detail = "Internal error; nothing was changed. The server log has the details"
    await http_error(500, detail)(scope, receive, send)
