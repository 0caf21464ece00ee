"""A lean HTTP/1.1 client for the simulator's SCIM requests, on the standard ``http.client``.

The simulator is a load generator as much as a rehearsal: in the benchmark's W5
it shares the machine's cores with the server it drives, so its CPU per request
bounds the sync's wall time as much as the server's does. Measured against a
live server on the project's 2-core benchmark machine, a request sent through
``httpx.Client`` cost about 290 µs of client CPU, the same request through
``http.client`` with keep-alive about 50 µs (and httpx over an ``http.client``
transport still 217 µs: the cost is httpx's client layer, not its transport).
Through this client it costs about 60 µs.

What reaches the server is what ``httpx.Client(base_url=..., headers=...)``
sends for ``request(method, path, json=..., params=...)``:

- the target: the base URL's path and the request's path, percent-encoded as
  httpx encodes a URL's path, then ``?`` and the parameters as httpx encodes
  ``params=`` (``urlencode``; ``true`` and ``false`` for booleans, nothing for None);
- the headers, in httpx's order: ``Host`` (the host in lower case, with the port
  only when it is not the scheme's default), ``Accept: */*``,
  ``Accept-Encoding: gzip, deflate`` (what httpx asks for when neither brotli nor
  zstandard is installed; such answers are decoded here too),
  ``Connection: keep-alive``, the client's own headers, and ``Content-Length`` for
  a body (0 for a POST, PUT or PATCH without one);
- the JSON body, byte for byte: ``json.dumps`` with ``ensure_ascii=False``,
  ``separators=(",", ":")`` and ``allow_nan=False``, in UTF-8;
- TLS trusts what httpx trusts (its default context); each connect, send and
  read waits at most the timeout, 60 s by default, as the simulator's httpx
  client did.

It differs where the simulator cannot tell: no proxy is taken from the
environment; a path keeps any ``.`` or ``..`` segment, and a ``?`` or ``#`` in
it is percent-encoded where httpx would start a query or fragment there, as
are ASCII control characters, which httpx refuses in a URL (the simulator's
paths are a resource type and an id the server issued).
"""

import http.client
import select
import socket
import threading
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from json import dumps, loads
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx

TIMEOUT = 60.0
"""Seconds any one connect, send or read may wait."""

PATH_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"#<>?`{}')
"""What httpx leaves unencoded in a path, besides letters, digits and ``-._~``."""

BODY_METHODS = ("POST", "PUT", "PATCH")
"""Methods that httpx gives a ``Content-Length: 0`` when they carry no body."""

Param = str | int | float | bool | None


class TransportError(Exception):
    """No answer came: the exchange broke or timed out, or what came back was not HTTP."""


class ConnectError(TransportError):
    """No connection could be opened: refused, not resolved, timed out, or refused by TLS."""


@dataclass(frozen=True, slots=True)
class Response:
    """A whole answer: its body is read, and decoded when the server compressed it."""

    status_code: int
    reason_phrase: str
    headers: http.client.HTTPMessage
    """Read case-insensitively: ``headers.get("retry-after")``."""

    content: bytes

    @property
    def text(self) -> str:
        """The body in the charset its ``Content-Type`` names, else UTF-8."""
        charset = self.headers.get_content_charset() or "utf-8"
        try:
            return self.content.decode(charset, errors="replace")
        except LookupError:  # a charset Python does not know
            return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return loads(self.content)


class Client:
    """HTTP/1.1 to one base URL, over keep-alive connections shared by the calling threads.

    A request takes the idle connection used last, or opens one: no more
    connections are open than requests were ever in flight at once, and they
    outlive the threads that sent over them (the simulator's steps each start
    their own). ``close`` closes them all, from any thread.
    """

    def __init__(self, base_url: str, headers: Mapping[str, str], timeout: float = TIMEOUT) -> None:
        parts = urlsplit(base_url)
        self._scheme = parts.scheme
        self._host = parts.hostname or ""
        default_port = 443 if parts.scheme == "https" else 80
        self._port = parts.port or default_port
        netloc = f"[{self._host}]" if ":" in self._host else self._host
        if self._port != default_port:
            netloc += f":{self._port}"
        self._path = quote(parts.path.rstrip("/"), safe=PATH_SAFE)
        self.base_url = f"{parts.scheme}://{netloc}{self._path}"
        """The base URL as requests are sent to it, without a trailing slash."""
        self._headers = [
            ("Host", netloc),
            ("Accept", "*/*"),
            ("Accept-Encoding", "gzip, deflate"),
            ("Connection", "keep-alive"),
            *headers.items(),
        ]
        self._timeout = timeout
        self._tls = httpx.create_ssl_context() if parts.scheme == "https" else None
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._closed = False

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Param] | None = None,
    ) -> Response:
        """Send a request to the base URL's ``path`` and read the whole answer.

        Raises ``ConnectError`` or ``TransportError`` when no answer came.
        """
        outgoing = _Outgoing(
            method,
            self._path + quote(path, safe=PATH_SAFE) + _query(params),
            None if json is None else _json_body(json),
        )
        connection, reused = self._take()
        try:
            answer, keep = self._exchange(connection, reused, outgoing)
        except BaseException:
            connection.close()
            raise
        self._give_back(connection, keep)
        return answer

    def close(self) -> None:
        """Close every idle connection; one in use is closed when its answer has been read."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _take(self) -> tuple[http.client.HTTPConnection, bool]:
        """The idle connection used last, if the server has not closed it; else a new one.
        True when the connection is reused."""
        with self._lock:
            connection = self._idle.pop() if self._idle else None
        if connection is not None:
            if not _readable(connection.sock):
                return connection, True
            # Nothing was asked on it: what there is to read is its end, or bytes out of turn.
            connection.close()
        connection = self._new()
        self._connect(connection)
        return connection, False

    def _give_back(self, connection: http.client.HTTPConnection, keep: bool) -> None:
        with self._lock:
            if keep and not self._closed:
                self._idle.append(connection)
                return
        connection.close()

    def _new(self) -> http.client.HTTPConnection:
        if self._scheme == "https":
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=self._timeout, context=self._tls
            )
        if self._scheme == "http":
            return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        raise ConnectError(f"not an http:// or https:// URL: {self.base_url}")

    def _connect(self, connection: http.client.HTTPConnection) -> None:
        try:
            connection.connect()
        except OSError as exc:
            raise ConnectError(str(exc) or type(exc).__name__) from exc

    def _exchange(
        self, connection: http.client.HTTPConnection, reused: bool, outgoing: "_Outgoing"
    ) -> tuple[Response, bool]:
        """The whole answer, and whether the connection stays open for the next request."""
        try:
            answer = self._answered(connection, reused, outgoing)
            content = _decoded(answer.read(), answer.getheader("Content-Encoding"))
        except (OSError, http.client.HTTPException, zlib.error) as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        response = Response(answer.status, answer.reason, answer.headers, content)
        return response, not answer.will_close

    def _answered(
        self, connection: http.client.HTTPConnection, reused: bool, outgoing: "_Outgoing"
    ) -> http.client.HTTPResponse:
        """The answer's status and headers; the request is sent once more, on a new
        connection, when a reused one ends before any byte of the answer."""
        try:
            return self._send(connection, outgoing)
        # http.client's RemoteDisconnected, an end before the status line, is one of these.
        except (BrokenPipeError, ConnectionResetError):
            if not reused:
                raise
            # The server closed the idle connection as the request went out: it answered
            # nothing, so the request is safe to send again.
            connection.close()
            self._connect(connection)
            return self._send(connection, outgoing)

    def _send(
        self, connection: http.client.HTTPConnection, outgoing: "_Outgoing"
    ) -> http.client.HTTPResponse:
        method, body = outgoing.method, outgoing.body
        connection.putrequest(method, outgoing.target, skip_host=True, skip_accept_encoding=True)
        for name, value in self._headers:
            connection.putheader(name, value)
        if body is not None or method in BODY_METHODS:
            connection.putheader("Content-Length", str(len(body or b"")))
        connection.endheaders(body)
        return connection.getresponse()


@dataclass(frozen=True, slots=True)
class _Outgoing:
    """A request as it goes on the wire: its method, target (path and query) and body."""

    method: str
    target: str
    body: bytes | None


def _query(params: Mapping[str, Param] | None) -> str:
    """``?`` and the parameters as httpx encodes ``params=``; nothing when there are none."""
    if not params:
        return ""
    return "?" + urlencode([(name, _param(value)) for name, value in params.items()])


def _param(value: Param) -> str:
    """A parameter's value as httpx writes it: booleans as JSON's, None as nothing."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return "" if value is None else str(value)


def _json_body(document: Any) -> bytes:
    """A JSON body as httpx encodes ``json=``."""
    text = dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.encode("utf-8")


def _readable(sock: socket.socket) -> bool:
    """Whether the socket has something to read now, without waiting."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def _decoded(content: bytes, encoding: str | None) -> bytes:
    """The body as it was before the server compressed it, as httpx decodes it."""
    encoding = (encoding or "").strip().lower()
    if not content or encoding not in ("gzip", "deflate"):
        return content
    if encoding == "gzip":
        return zlib.decompress(content, zlib.MAX_WBITS | 16)
    try:
        return zlib.decompress(content)
    except zlib.error:  # deflate without its zlib wrapper, as some servers send it
        return zlib.decompress(content, -zlib.MAX_WBITS)
