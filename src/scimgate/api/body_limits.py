"""One cap on every request body, with a limit per family of routes, refused with a 413.

A declared ``Content-Length`` over the limit is refused without a byte of the
body read: before the application runs, or, for SCIM, whose edge checks
credentials before it reads (``api.scim_pipeline`` caps its bodies with the same
``CappedBody``), at the first read, so that an anonymous client hears 401 and a
directory's provisioning log records its own 413s. A
chunked body is counted as the application reads it, and refused as soon as
it goes over. The 413 is in the envelope of the route's edge, whatever the
application made of the failed read.

The management API's gate lies outside the cap: an anonymous client hears 401
there, whatever it sends.
"""

from collections.abc import Awaitable, Callable, Sequence

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scimgate.records import frozen

Answer = Callable[[Scope, str], Response]
"""The 413 of a family: its envelope around a detail a person can act on."""


@frozen
class Family:
    """Routes whose paths start with ``prefix``, with the largest body they accept."""

    prefix: str
    limit: int
    answer: Answer


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


class CappedBody:
    """One request's body under its family's limit: its reads counted, its refusal kept.

    The application reads through ``check`` (before each read) and ``count``
    (after it); its answer passes ``passes``, which holds back whatever it made
    of a refused read, and ``answer_refusal`` then gives the family's 413.
    """

    def __init__(self, family: Family, scope: Scope) -> None:
        self.family = family
        self.declared = _declared_length(scope)
        self.oversize = self.declared is not None and self.declared > family.limit
        self.received = 0
        self.refusal: BodyTooLarge | None = None
        self.started = False

    def refusal_before_reading(self) -> BodyTooLarge | None:
        """The refusal of a declared oversize body, for routes refused before they run."""
        return BodyTooLarge(self.declared or 0, self.family.limit) if self.oversize else None

    def check(self) -> None:
        """Before a read: raise the refusal, when the body was declared or found too large."""
        if self.refusal is None and self.oversize:
            self.refusal = BodyTooLarge(self.declared or 0, self.family.limit)
        if self.refusal is not None:
            raise self.refusal

    def count(self, message: Message) -> None:
        """After a read: raise the refusal once the body has gone over the limit."""
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.family.limit:
                self.refusal = BodyTooLarge(self.received, self.family.limit)
                raise self.refusal

    def passes(self, message: Message) -> bool:
        """Whether a message of the application's answer is sent: none is after a refusal."""
        if self.refusal is not None and not self.started:
            return (
                False  # whatever the application answered to the failed read, the 413 replaces it
            )
        self.started = self.started or message["type"] == "http.response.start"
        return True

    async def running(
        self, app: Awaitable[None], scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Run the application's call, then answer the refusal if it made one: a failure
        that follows the refusal is the refusal's; any other failure is raised."""
        try:
            await app
        except Exception:
            if self.refusal is None:
                raise
        await self.answer_refusal(scope, receive, send)

    async def answer_refusal(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The family's 413, when a read was refused and nothing of an answer went out."""
        if self.refusal is not None and not self.started:
            await self.family.answer(scope, str(self.refusal.detail))(scope, receive, send)


class BodyCap:
    """Caps the body of every HTTP request by the first family whose prefix its path has.

    ``fallback`` serves paths of no family. A declared ``Content-Length`` over the
    limit is refused before the application runs.
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
        capped = CappedBody(self.family_of(scope["path"]), scope)
        refused = capped.refusal_before_reading()
        if refused is not None:
            await capped.family.answer(scope, str(refused.detail))(scope, receive, send)
            return

        async def capped_receive() -> Message:
            capped.check()
            message = await receive()
            capped.count(message)
            return message

        async def answering_send(message: Message) -> None:
            if capped.passes(message):
                await send(message)

        await capped.running(self.app(scope, capped_receive, answering_send), scope, receive, send)


def announces_body(scope: Scope) -> bool:
    """Whether a request says it has a body (which ``closing`` then watches being read)."""
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
        if scope["type"] != "http" or not announces_body(scope):
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
                message = closing(message)
            await send(message)

        await self.app(scope, watched_receive, closing_send)


def closing(start: Message) -> Message:
    """An answer's start message with ``Connection: close`` (in place of any it had)."""
    headers = [(k, v) for k, v in start.get("headers", ()) if k != b"connection"]
    return {**start, "headers": [*headers, (b"connection", b"close")]}
