"""An answer leaves the server in one write: the writes of one turn of the loop are joined.

The transport is driven on a real event loop with a stand-in for the socket's
transport that records each write; then a live server (started as ``scimgate
serve`` starts uvicorn) is read through a raw socket, where each answer must
arrive whole in the first read after its request.
"""

import asyncio
import socket

from conftest import LiveServer
from loop_support import run_apart
from scimgate.cli.coalesced_writes import FLUSH_BYTES, CoalescingTransport


class _Socket(asyncio.Transport):
    """What the loop's transport was asked to write and to do."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.done: list[str] = []
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def write_eof(self) -> None:
        self.done.append("eof")

    def close(self) -> None:
        self.closing = True
        self.done.append("close")

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"peername": ("127.0.0.1", 1)}.get(name, default)


async def _turn() -> None:
    """Let the loop run the callbacks already due."""
    await asyncio.sleep(0)


def test_the_writes_of_one_turn_go_out_as_one_in_their_order() -> None:
    async def scenario() -> list[bytes]:
        raw = _Socket()
        transport = CoalescingTransport(raw, asyncio.get_running_loop())
        transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        transport.write(memoryview(b"{}"))
        assert raw.writes == []  # held until the turn ends
        await _turn()
        transport.write(b"next")
        await _turn()
        await _turn()  # nothing pending: nothing written
        return raw.writes

    assert run_apart(scenario()) == [
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}",
        b"next",
    ]


def test_a_large_write_goes_out_at_once_after_what_was_pending() -> None:
    async def scenario() -> list[bytes]:
        raw = _Socket()
        transport = CoalescingTransport(raw, asyncio.get_running_loop())
        transport.write(b"head")
        transport.write(b"x" * FLUSH_BYTES)
        written = list(raw.writes)
        await _turn()
        assert raw.writes == written  # the flush due at the end of the turn has nothing left
        return written

    assert run_apart(scenario()) == [b"head" + b"x" * FLUSH_BYTES]


def test_closing_writes_what_is_pending_first_and_a_closed_connection_is_not_written() -> None:
    async def scenario() -> tuple[list[bytes], list[str], str]:
        raw = _Socket()
        transport = CoalescingTransport(raw, asyncio.get_running_loop())
        transport.write(b"last answer")
        transport.close()
        transport.write(b"too late")
        await _turn()
        return raw.writes, raw.done, str(transport.get_extra_info("peername"))

    writes, done, peer = run_apart(scenario())
    assert writes == [b"last answer"]
    assert done == ["close"]
    assert peer == "('127.0.0.1', 1)"  # everything else is the socket transport's own


def test_write_eof_writes_what_is_pending_first() -> None:
    async def scenario() -> tuple[list[bytes], list[str]]:
        raw = _Socket()
        transport = CoalescingTransport(raw, asyncio.get_running_loop())
        transport.write(b"body")
        transport.write_eof()
        return raw.writes, raw.done

    assert run_apart(scenario()) == ([b"body"], ["eof"])


def test_each_answer_arrives_whole_in_one_read(live_server: LiveServer) -> None:
    host, port = live_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        for _ in range(50):
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: scimgate\r\n\r\n")
            answer = connection.recv(65_536)
            head, _, body = answer.partition(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            assert head.startswith(b"HTTP/1.1 200") and len(body) == length, answer
