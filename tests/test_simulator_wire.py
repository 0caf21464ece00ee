"""The simulator's HTTP client (``scimgate.simulator.wire``) against real sockets on loopback.

It sends what httpx sent before it, keeps its connections alive across requests
and steps, survives a server that closes an idle connection, and reads every
kind of answer; ``Session`` over it keeps its retries, failures and stops.
"""

import gzip
import ipaddress
import json
import socket
import ssl
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from conftest import eventually, free_port
from property_support import property_settings
from scimgate.simulator import wire
from scimgate.simulator.dialects import DIALECTS
from scimgate.simulator.runner import Session


@dataclass(frozen=True)
class Exchange:
    """A request as it reached the server, on its ``connection`` (1 for the first accepted)."""

    connection: int
    method: str
    target: str
    headers: dict[str, str]
    """By name in lower case."""

    body: bytes


@dataclass(frozen=True)
class Reply:
    raw: bytes | None
    """The whole answer as sent; None to close the connection without answering."""

    then: Literal["keep", "close", "shut"] = "keep"
    """After answering: keep the connection, close it, or end only its sending side (the
    server is done with it, and still reads what arrives)."""


def reply(status: int = 200, body: bytes = b'{"ok":true}', *headers: str, **kw: Any) -> Reply:
    """An answer with a ``Content-Length``, unless its headers say how the body ends."""
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", *headers]
    if not any(h.lower().startswith(("content-length", "transfer-encoding")) for h in headers):
        lines.append(f"Content-Length: {len(body)}")
    return Reply(("\r\n".join(lines) + "\r\n\r\n").encode() + body, **kw)


Answerer = Callable[[Exchange], Reply]


class Recorder:
    """A loopback HTTP/1.1 server that keeps every request as it arrived and answers as told."""

    def __init__(self, answer: Answerer, tls: ssl.SSLContext | None = None) -> None:
        self.answer = answer
        self.exchanges: list[Exchange] = []
        self.accepted = 0
        self.open = 0
        self.shut = threading.Event()
        self._lock = threading.Lock()
        self._tls = tls
        self._listener = socket.create_server(("127.0.0.1", 0))
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.accepted += 1
                self.open += 1
                number = self.accepted
            threading.Thread(target=self._serve, args=(connection, number), daemon=True).start()

    def _serve(self, connection: socket.socket, number: int) -> None:
        if self._tls is not None:
            try:
                connection = self._tls.wrap_socket(connection, server_side=True)
            except OSError:  # the client refused the certificate
                connection.close()
                with self._lock:
                    self.open -= 1
                return
        with connection, connection.makefile("rb") as reader:
            while (exchange := _read_request(reader, number)) is not None:
                with self._lock:
                    self.exchanges.append(exchange)
                answer = self.answer(exchange)
                if answer.raw is None:
                    break
                try:
                    connection.sendall(answer.raw)
                except OSError:  # the client sent on a connection this server had ended
                    break
                if answer.then == "close":
                    break
                if answer.then == "shut":
                    connection.shutdown(socket.SHUT_WR)
                    self.shut.set()
        with self._lock:
            self.open -= 1


def _read_request(reader: Any, connection: int) -> Exchange | None:
    """The next request on a connection; None once the client has closed it."""
    lines: list[bytes] = []
    while not lines or lines[-1] != b"\r\n":
        line = reader.readline()
        if not line:
            return None
        lines.append(line)
    method, target, _ = lines[0].decode("latin-1").split(" ")
    pairs = (line.decode("latin-1").rstrip("\r\n").split(": ", 1) for line in lines[1:-1])
    headers = {name.lower(): value for name, value in pairs}
    body = reader.read(int(headers.get("content-length", "0")))
    return Exchange(connection, method, target, headers, body)


@contextmanager
def recording(
    answer: Answerer = lambda _: reply(), tls: ssl.SSLContext | None = None
) -> Iterator[Recorder]:
    recorder = Recorder(answer, tls)
    try:
        yield recorder
    finally:
        recorder.close()


# What httpx sent -------------------------------------------------------------------------

_ODD = st.sampled_from([" ", '"', "'", "&", "=", "%", "%41", "+", "@", "é", "中", "😀", "\n"])
_TEXT = st.lists(st.one_of(_ODD, st.text(max_size=3)), max_size=5).map("".join)
_SEGMENT = st.text(st.characters(min_codepoint=0x20, exclude_characters="/?#\x7f"), max_size=3)
IDS = st.one_of(
    st.uuids().map(str),
    st.lists(st.one_of(_ODD.filter(str.isprintable), _SEGMENT), min_size=1, max_size=5)
    .map("".join)
    .filter(lambda found: found not in ("", ".", "..")),
)
"""Ids a server issues, and odd ones. Without ``/``, ``?``, ``#``, dot segments, where httpx
cleans or splits a path, and ASCII control characters, which it refuses in one (``wire``
encodes them all)."""

PATHS = st.one_of(
    st.just("/Users"),
    st.just("/Groups"),
    IDS.map(lambda found: f"/Users/{found}"),
    IDS.map(lambda found: f"/Groups/{found}"),
)
PARAMS = st.one_of(
    st.none(),
    st.dictionaries(_TEXT, st.one_of(_TEXT, st.integers(), st.booleans()), max_size=4),
)
JSON = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
        _TEXT, st.text(st.characters(max_codepoint=0x1F), max_size=4),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(_TEXT, inner, max_size=3)
    ),
    max_leaves=12,
)  # fmt: skip
BODIES = st.one_of(st.none(), st.dictionaries(_TEXT, JSON, max_size=4), st.lists(JSON, max_size=3))

COMPARED = ("host", "accept", "connection", "authorization", "content-type", "content-length",
            "user-agent")  # fmt: skip
"""Every header but ``Accept-Encoding``, which httpx widens when brotli or zstandard is installed
(and which does not change what a server that does not compress answers)."""


@pytest.fixture(scope="module")
def recorder() -> Iterator[Recorder]:
    with recording() as server:
        yield server


@property_settings(150)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
    base=st.sampled_from(["", f"/scim/v2/{uuid.uuid4()}", "/scim/v2/é t%41/"]),
    path=PATHS,
    params=PARAMS,
    body=BODIES,
    agent=st.sampled_from(sorted({dialect.user_agent for dialect in DIALECTS.values()})),
)
def test_a_request_reaches_the_server_as_httpx_sent_it(
    recorder: Recorder,
    method: str,
    base: str,
    path: str,
    params: dict[str, Any] | None,
    body: Any,
    agent: str,
) -> None:
    headers = {
        "Authorization": "Bearer scimgate_0123456789abcdef",
        "Content-Type": "application/scim+json; charset=utf-8",
        "User-Agent": agent,
    }
    lean = wire.Client(recorder.url + base, headers)
    reference = httpx.Client(base_url=recorder.url + base, headers=headers)
    try:
        lean.request(method, path, json=body, params=params)
        reference.request(method, path, json=body, params=params)
    finally:
        lean.close()
        reference.close()
    ours, theirs = recorder.exchanges[-2:]
    assert (ours.method, ours.target, ours.body) == (theirs.method, theirs.target, theirs.body)
    assert {name: ours.headers.get(name) for name in COMPARED} == {
        name: theirs.headers.get(name) for name in COMPARED
    }


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/scim/v2/abc",
        "http://Example.COM:80/scim/v2/abc/",
        "https://example.com:443/scim",
        "https://example.com:8443/a b/é",
        "http://[::1]:8080/scim/v2",
    ],
)
def test_the_base_url_is_the_one_httpx_sent_requests_to(url: str) -> None:
    """Its host and port are the ``Host`` header; the dialects refer to resources under it."""
    assert wire.Client(url, {}).base_url == str(httpx.URL(url)).rstrip("/")


# Keep-alive ------------------------------------------------------------------------------


def test_requests_one_after_another_share_one_connection() -> None:
    with recording() as server:
        client = wire.Client(server.url, {})
        for _ in range(5):
            assert client.request("GET", "/Users").json() == {"ok": True}
        client.close()
    assert server.accepted == 1 and len(server.exchanges) == 5


def test_requests_in_flight_at_once_have_a_connection_each_kept_for_every_step() -> None:
    """Four at a time over two steps: four connections, closed by ``Session.close``."""
    together = threading.Barrier(4, timeout=10)

    def answer_all_four_at_once(_: Exchange) -> Reply:
        together.wait()
        return reply()

    with recording(answer_all_four_at_once) as server:
        session = Session(server.url, "t", "test", concurrency=4)
        for step in ("one", "two"):
            with session.step(step):
                session.each(range(8), lambda n: session.send("GET", f"/Users/{n}", (200,)))
        assert server.accepted == 4 and len(server.exchanges) == 16
        assert not session.report.failures
        session.close()
        eventually(lambda: server.open == 0, "the connections closed")


def test_a_connection_the_server_closes_after_its_answer_is_not_used_again() -> None:
    with recording(lambda _: reply(200, b"{}", "Connection: close", then="close")) as server:
        client = wire.Client(server.url, {})
        assert client.request("GET", "/Users").content == b"{}"
        assert client.request("GET", "/Users").content == b"{}"
        client.close()
    assert [exchange.connection for exchange in server.exchanges] == [1, 2]


def test_a_connection_the_server_closed_while_idle_is_not_sent_on() -> None:
    """The server ends it without a word, but would still read: nothing more is sent on it."""
    with recording(lambda _: reply(then="shut")) as server:
        client = wire.Client(server.url, {})
        client.request("GET", "/Users/1")
        assert server.shut.wait(10)
        time.sleep(0.05)  # for the end to reach the client's socket
        client.request("GET", "/Users/2")
        client.close()
    sent = [(exchange.connection, exchange.target) for exchange in server.exchanges]
    assert sent == [(1, "/Users/1"), (2, "/Users/2")]


def test_a_request_a_reused_connection_ends_without_answering_is_sent_again() -> None:
    """The server closes the kept connection as the second request arrives."""

    def close_as_the_second_arrives(exchange: Exchange) -> Reply:
        dropped = (exchange.connection, exchange.target) == (1, "/Users/2")
        return Reply(None) if dropped else reply()

    with recording(close_as_the_second_arrives) as server:
        client = wire.Client(server.url, {})
        client.request("GET", "/Users/1")
        assert client.request("GET", "/Users/2").json() == {"ok": True}
        client.close()
    sent = [(exchange.connection, exchange.target) for exchange in server.exchanges]
    assert sent == [(1, "/Users/1"), (1, "/Users/2"), (2, "/Users/2")]


def test_a_new_connection_ended_without_an_answer_is_a_transport_error_sent_once() -> None:
    with recording(lambda _: Reply(None)) as server:
        client = wire.Client(server.url, {})
        with pytest.raises(wire.TransportError, match="RemoteDisconnected"):
            client.request("POST", "/Users", json={})
        client.close()
    assert len(server.exchanges) == 1


def test_an_answer_that_does_not_come_in_time_is_a_transport_error() -> None:
    gone = threading.Event()
    with recording(lambda _: Reply(None) if gone.wait(10) else reply()) as server:
        client = wire.Client(server.url, {}, timeout=0.2)
        with pytest.raises(wire.TransportError, match="TimeoutError"):
            client.request("GET", "/Users")
        gone.set()
        client.close()


# Answers ---------------------------------------------------------------------------------


def test_a_chunked_answer_is_read_whole_and_the_connection_kept() -> None:
    chunks = [b'{"Resources":', b" [1, 2", b", 3]}"]
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks) + b"0\r\n\r\n"
    with recording(lambda _: reply(200, body, "Transfer-Encoding: chunked")) as server:
        client = wire.Client(server.url, {})
        for _ in range(2):
            assert client.request("GET", "/Users").json() == {"Resources": [1, 2, 3]}
        client.close()
    assert server.accepted == 1


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data, wbits=-zlib.MAX_WBITS)),
    ],
)
def test_a_compressed_answer_is_decoded(encoding: str, compress: Callable[[bytes], bytes]) -> None:
    """The client asks for gzip and deflate, as httpx does: it reads what it asked for."""
    sent = compress(b'{"id": "\xc3\xa9"}')
    with recording(lambda _: reply(200, sent, f"Content-Encoding: {encoding}")) as server:
        client = wire.Client(server.url, {})
        assert client.request("GET", "/Users/1").json() == {"id": "é"}
        client.close()


@contextmanager
def session_of(server: Recorder) -> Iterator[Session]:
    session = Session(f"{server.url}/scim/v2/d", "t", "test")
    try:
        with session.step("step"):
            yield session
    finally:
        session.close()


def test_an_empty_answer_is_an_empty_document() -> None:
    with recording(lambda _: reply(204, b"")) as server, session_of(server) as session:
        assert session.send("DELETE", "/Users/1", (204,)) == {}
    assert not session.report.failures


def test_a_throttled_request_is_sent_again_after_the_wait_it_asks_for() -> None:
    def throttle_the_first(exchange: Exchange) -> Reply:
        if len(server.exchanges) == 1:
            return reply(429, b"", "retry-after: 0")
        return reply(201, b'{"id":"1"}')

    with recording(throttle_the_first) as server, session_of(server) as session:
        assert session.send("POST", "/Users", (201,), json={"userName": "a"}) == {"id": "1"}
    assert session.report.steps[0].requests == 1 and session.report.throttled == 1
    assert not session.report.failures and len(server.exchanges) == 2


def test_a_refused_token_stops_the_run_with_the_answer_in_words() -> None:
    refused = json.dumps({"detail": "The bearer token is not valid."}).encode()
    with recording(lambda _: reply(401, refused)) as server, session_of(server) as session:
        assert session.send("GET", "/Users", (200,)) is None
        assert session.send("GET", "/Groups", (200,)) is None
    assert session.report.stopped == (
        "the server refused the token: 401 Unauthorized: The bearer token is not valid."
    )
    assert [failure.status for failure in session.report.failures] == [401]


def test_a_server_out_of_reach_is_a_failure_that_stops_the_run() -> None:
    url = f"http://127.0.0.1:{free_port()}/scim/v2/d"
    session = Session(url, "t", "test")
    with session.step("step"):
        assert session.send("GET", "/Users", (200,)) is None
    session.close()
    [failure] = session.report.failures
    assert failure.status is None and failure.response.startswith("ConnectError: ")
    assert session.report.stopped == f"cannot reach {url} ({failure.response})"


# TLS --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1 (its PEM file), and a server context with it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "scimgate test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    return cert_file, server


def test_an_https_server_it_trusts_is_reached_over_tls_on_one_kept_connection(
    certificate: tuple[Path, ssl.SSLContext], monkeypatch: pytest.MonkeyPatch
) -> None:
    cert_file, server_tls = certificate
    # What httpx trusts, the simulator trusts: here, the certificate httpx is pointed at.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    with recording(lambda _: reply(200, b'{"totalResults":0}'), tls=server_tls) as server:
        client = wire.Client(f"{server.url}/scim/v2/d", {"Authorization": "Bearer t"})
        try:
            first = client.request("GET", "/Users", params={"count": 1})
            second = client.request("POST", "/Users", json={"userName": "ann"})
        finally:
            client.close()

    assert (first.status_code, first.content) == (200, b'{"totalResults":0}')
    assert second.status_code == 200
    assert [(e.method, e.target) for e in server.exchanges] == [
        ("GET", "/scim/v2/d/Users?count=1"),
        ("POST", "/scim/v2/d/Users"),
    ]
    assert server.accepted == 1
    assert server.exchanges[0].headers["authorization"] == "Bearer t"


def test_an_https_server_it_does_not_trust_is_a_connect_error_in_words(
    certificate: tuple[Path, ssl.SSLContext], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, server_tls = certificate
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with recording(tls=server_tls) as server:
        client = wire.Client(server.url, {})
        try:
            with pytest.raises(wire.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                client.request("GET", "/Users")
        finally:
            client.close()
    assert server.exchanges == []
