"""Recording every SCIM request of a directory in its provisioning log."""

from starlette.types import ASGIApp, Receive, Scope, Send


class ProvisioningLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
