"""Recording every SCIM request of a directory in its provisioning log.

The bodies are captured while they pass through, and the entry is queued once
the answer has been sent, to be written together with other entries of the
moment (on the event loop on SQLite, ``api.log_batches``; by the log's writer
thread on PostgreSQL, ``service.operations.log_writer``): the log never delays
an answer or changes it, and a failure to write it is only logged.

Nothing waits for an entry to be written: the request is over once its entry is
queued. Waiting for it cost each request a suspension and a wake-up of its task
after the answer, some 5 µs of CPU a lookup in process, and bought
nothing a stopping server cannot do itself: it writes every entry still queued
(``drain``) once its last request has ended, before its database closes.
"""

import asyncio
import time
from typing import Any

from starlette.types import Message, Scope

from scimgate.api.log_batches import LoopBatches
from scimgate.api.scim_edge import ANSWER_KEY, CONFIRMATIONS_KEY, DIRECTORY_KEY, TOKEN_USE_KEY
from scimgate.config import LogPolicy
from scimgate.service.operations.log_writer import LogWriter
from scimgate.service.operations.provisioning_log import CapturedRequest
from scimgate.store.engine import takes_turns
from scimgate.store.ids import new_id, utcnow
from scimgate.store.tenants import Directory

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
    """The provisioning log of one application: its policy, and its writer once needed."""

    def __init__(self, policy: LogPolicy) -> None:
        self.policy = policy
        self._writer: LogWriter | None = None
        self._batches: LoopBatches | None = None

    def capture(self, scope: Scope) -> "Capture":
        """Start capturing a SCIM request, as it is received."""
        return Capture(self, scope)

    def submit(self, scope: Scope, captured: CapturedRequest) -> None:
        """Queue an entry: gathered on the event loop on SQLite (``api.log_batches``), by the
        log's writer thread on PostgreSQL."""
        engine = scope["app"].state.engine
        if not takes_turns(engine):
            if self._writer is None:
                self._writer = LogWriter(engine, self.policy)
            self._writer.submit(captured)
            return
        loop = asyncio.get_running_loop()
        if self._batches is None or self._batches.loop is not loop:
            self._batches = LoopBatches(engine, self.policy, loop)
        self._batches.submit(captured)

    async def drain(self) -> None:
        """Write every entry queued so far, without gathering more: what a stopping server
        does once its last request has ended."""
        batches = self._batches
        if batches is not None and batches.loop is asyncio.get_running_loop():
            await batches.drain()
        if self._writer is not None:
            newest = self._writer.drain()
            if newest is not None:
                await asyncio.wrap_future(newest)


class Capture:
    """One SCIM request on its way: its bodies as they pass, its entry once it is answered.

    The request's reads pass ``received``, its answer's messages ``sent``; the
    entry is queued when the answer ends (or at ``finish``, when it did not).
    """

    def __init__(self, log: ProvisioningLog, scope: Scope) -> None:
        self.log = log
        self.scope = scope
        self.received_at = utcnow()
        self.started = time.perf_counter()
        self.request = _Body()
        self.response = _Body()
        self.status = 0
        self.latency_ms = 0
        self.queued = False

    def received(self, message: Message) -> None:
        if message["type"] == "http.request":
            self.request.add(message.get("body", b""))

    def sent(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
        elif message["type"] == "http.response.body":
            self.response.add(message.get("body", b""))
            if not message.get("more_body", False):
                self.latency_ms = round((time.perf_counter() - self.started) * 1000)
                # Queued before the client can see its answer: whatever it sends next is
                # logged (and its reads confirmed) after this.
                self._submit()

    def finish(self) -> None:
        """Once the request is over: queue its entry, if its answer did not end (the client
        left, or it failed)."""
        if not self.queued:
            self._submit()

    def _submit(self) -> None:
        self.queued = True
        # Set by the SCIM edge once the token opened the directory in the URL: a request
        # that did not authenticate for it is nobody's to see.
        scope = self.scope
        state: dict[str, Any] = scope.get("state", {})
        directory: Directory | None = state.get(DIRECTORY_KEY)
        if not self.status or directory is None:
            return
        response_body = self.response.content()
        answer: tuple[bytes, Any] | None = state.get(ANSWER_KEY)
        captured = CapturedRequest(
            directory=directory,
            request_id=_request_id(state),
            received_at=self.received_at,
            method=str(scope.get("method", "")),
            path=scope.get("path", ""),
            query=scope.get("query_string", b"").decode("latin-1"),
            status=self.status,
            latency_ms=self.latency_ms,
            user_agent=_user_agent(scope),
            request_body=self.request.content(),
            response_body=response_body,
            # Only the very bytes the edge's answer was written as (a body sent in one piece
            # is kept as it came): any other answer is parsed back.
            response_document=answer[1]
            if answer is not None and response_body is answer[0]
            else None,
            confirmations=state.get(CONFIRMATIONS_KEY, ()),
            token_use=state.get(TOKEN_USE_KEY),
        )
        self.log.submit(scope, captured)


def _user_agent(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"user-agent":
            return str(value.decode("latin-1"))
    return None


def _request_id(state: dict[str, Any]) -> str:
    """The id the request-id middleware gave the request, or a new one."""
    given = state.get("request_id")
    return str(given) if given else new_id()
