"""A request id for every request: in the logs, the answer's headers and error details."""

from starlette.types import ASGIApp, Receive, Scope, Send


class RequestIds:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
