"""Headers every answer carries: they hold directory data, which no cache or browser may keep."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
"""Set on every response that does not set them itself (pages set a stricter policy)."""

_RAW = [
    (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in API_HEADERS.items()
]


def add_api_headers(headers: list[tuple[bytes, bytes]]) -> None:
    """Append to an answer's raw headers those of ``API_HEADERS`` it does not set."""
    present = {name for name, _ in headers}  # raw ASGI names are lower-case
    headers.extend(item for item in _RAW if item[0] not in present)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message["headers"] = list(message.get("headers", ()))
                add_api_headers(headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)
