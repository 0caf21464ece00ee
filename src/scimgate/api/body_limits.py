"""One cap on every request body, with a limit per family of routes, refused with a 413.

A declared ``Content-Length`` over the limit is refused without a byte of the
body read: before the application runs, or, for a family whose routes check
credentials before they read (SCIM), at the first read, so that an anonymous
client hears 401 and a directory's provisioning log records its own 413s. A
chunked body is counted as the application reads it, and refused as soon as
it goes over. The 413 is in the envelope of the route's edge, whatever the
application made of the failed read.

The management API's gate lies outside the cap: an anonymous client hears 401
there, whatever it sends.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Answer = Callable[[Scope, str], Response]
"""The 413 of a family: its envelope around a detail a person can act on."""


@dataclass(frozen=True)
class Family:
    """Routes whose paths start with ``prefix``, with the largest body they accept."""

    prefix: str
    limit: int
    answer: Answer
    checked_at_read: bool = False
    """Refuse a declared oversize body at the first read rather than before the route runs."""


class BodyTooLarge(HTTPException):
    """Raised into the application by a read past its route's limit."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            413, f"The request body has at least {size} bytes; at most {limit} are accepted"
        )


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


class BodyCap:
    """Caps the body of every HTTP request by the first family whose prefix its path has.

    ``fallback`` serves paths of no family.
    """

    def __init__(self, app: ASGIApp, families: Sequence[Family], fallback: Family) -> None:
        self.app = app
        self.families = tuple(families)
        self.fallback = fallback

    def family_of(self, path: str) -> Family:
        return next((f for f in self.families if path.startswith(f.prefix)), self.fallback)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        family = self.family_of(scope["path"])
        declared = _declared_length(scope)
        oversize = declared is not None and declared > family.limit
        if oversize and not family.checked_at_read:
            refused = BodyTooLarge(declared or 0, family.limit)
            await family.answer(scope, str(refused.detail))(scope, receive, send)
            return
        received = 0
        refusal: BodyTooLarge | None = None
        started = False

        async def capped_receive() -> Message:
            nonlocal received, refusal
            if refusal is None and oversize:
                refusal = BodyTooLarge(declared or 0, family.limit)
            if refusal is not None:
                raise refusal
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > family.limit:
                    refusal = BodyTooLarge(received, family.limit)
                    raise refusal
            return message

        async def answering_send(message: Message) -> None:
            nonlocal started
            if refusal is not None and not started:
                return  # whatever the application answered to the failed read, the 413 replaces it
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, capped_receive, answering_send)
        except Exception:
            if refusal is None:
                raise  # a failure of its own; one that follows the refusal is the refusal's
        if refusal is not None and not started:
            await family.answer(scope, str(refusal.detail))(scope, receive, send)


def _announces_body(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0"):
            return True
    return False


class ClosedAfterUnreadBody:
    """Closes the connection after an answer given before the request's body was all read.

    A server keeping the connection alive would go on reading the rest of the
    body (to find the next request) after refusing it: up to the whole of a body
    the refusal meant not to read. ``Connection: close`` ends the connection
    with the answer instead.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _announces_body(scope):
            await self.app(scope, receive, send)
            return
        ended = False

        async def watched_receive() -> Message:
            nonlocal ended
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                ended = True
            return message

        async def closing_send(message: Message) -> None:
            if message["type"] == "http.response.start" and not ended:
                headers = [(k, v) for k, v in message.get("headers", ()) if k != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, watched_receive, closing_send)
