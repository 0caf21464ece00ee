"""Recording every SCIM request of a directory in its provisioning log.

The bodies are captured while they pass through, and the entry is written
once the answer has been sent, by the log's writer thread together with other
entries of the moment: the log never delays an answer or changes it, and a
failure to write it is only logged.
"""

import asyncio
import time
from concurrent.futures import Future
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scimgate.api.scim_edge import CONFIRMATIONS_KEY, DIRECTORY_KEY, TOKEN_USE_KEY
from scimgate.service.log_writer import LogWriter
from scimgate.service.provisioning_log import CapturedRequest, LogPolicy
from scimgate.store.ids import new_id, utcnow
from scimgate.store.tenants import Directory

SCIM_PREFIX = "/scim/v2/"
CAPTURE_LIMIT = 4 * 1024 * 1024
"""A body larger than this is passed through without being kept."""


class _Body:
    """Chunks of a body, kept up to the capture limit."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size <= CAPTURE_LIMIT:
            self.chunks.append(chunk)

    def content(self) -> bytes | None:
        return b"".join(self.chunks) if self.size <= CAPTURE_LIMIT else None


class ProvisioningLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.policy = LogPolicy.from_env()
        self._writer: LogWriter | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(SCIM_PREFIX):
            await self.app(scope, receive, send)
            return
        received_at = utcnow()
        started = time.perf_counter()
        request = _Body()
        response = _Body()
        status = 0
        latency_ms = 0

        async def capturing_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                request.add(message.get("body", b""))
            return message

        written: Future[None] | None = None

        def submit() -> "Future[None] | None":
            # Set by the SCIM edge once the token opened the directory in the URL: a request
            # that did not authenticate for it is nobody's to see.
            state: dict[str, Any] = scope.get("state", {})
            directory: Directory | None = state.get(DIRECTORY_KEY)
            if not status or directory is None:
                return None
            captured = CapturedRequest(
                directory=directory,
                request_id=_request_id(state),
                received_at=received_at,
                method=str(scope.get("method", "")),
                path=path,
                query=scope.get("query_string", b"").decode("latin-1"),
                status=status,
                latency_ms=latency_ms,
                user_agent=_user_agent(scope),
                request_body=request.content(),
                response_body=response.content(),
                confirmations=state.get(CONFIRMATIONS_KEY, ()),
                token_use=state.get(TOKEN_USE_KEY),
            )
            return self._writer_for(scope).submit(captured)

        async def capturing_send(message: Message) -> None:
            nonlocal status, latency_ms, written
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                response.add(message.get("body", b""))
                if not message.get("more_body", False):
                    latency_ms = round((time.perf_counter() - started) * 1000)
                    # Queued before the client can see its answer: whatever it sends next is
                    # logged (and its reads confirmed) after this.
                    written = submit()
            await send(message)

        try:
            await self.app(scope, capturing_receive, capturing_send)
        finally:
            if written is None:  # the answer did not end (the client left, or it failed)
                written = submit()
            if written is not None:
                await asyncio.wrap_future(written)

    def _writer_for(self, scope: Scope) -> LogWriter:
        if self._writer is None:
            self._writer = LogWriter(scope["app"].state.engine, self.policy)
        return self._writer


def _user_agent(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"user-agent":
            return str(value.decode("latin-1"))
    return None


def _request_id(state: dict[str, Any]) -> str:
    """The id the request-id middleware gave the request, or a new one."""
    given = state.get("request_id")
    return str(given) if given else new_id()
