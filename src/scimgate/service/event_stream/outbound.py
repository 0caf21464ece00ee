"""The HTTP client that delivers webhooks: one deadline for a whole attempt, checked destinations.

httpx's timeouts bound each network operation, not a request: an endpoint that
answers a byte at a time could hold an attempt for as long as it liked. Here
every connect, write and read is bounded by what is left of the attempt's
deadline (set for the calling thread by :func:`deadline`), so an attempt ends
when its time is up, whatever the endpoint does.

The client connects only to addresses that :mod:`destinations` accepts,
resolved at the moment of connecting: a host name that resolves inside the
network at delivery time is refused, whatever it resolved to at registration,
and the connection goes to the very address that was checked. Redirects are
not followed, and proxies from the environment are not used (they would
connect on the client's behalf, to addresses not checked here).
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from typing import Any, TypeVar

import httpcore
import httpx

from scimgate.config import AllowedHosts
from scimgate.records import frozen
from scimgate.service.event_stream import destinations
from scimgate.service.event_stream.destinations import RefusedDestination

_local = threading.local()
T = TypeVar("T")


@frozen
class _Deadline:
    at: float
    """``time.monotonic()`` when the attempt's time is up."""

    seconds: float


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Within the block, this thread's requests end (with a timeout) ``seconds`` from now."""
    previous = getattr(_local, "deadline", None)
    _local.deadline = _Deadline(time.monotonic() + seconds, seconds)
    try:
        yield
    finally:
        _local.deadline = previous


def _bounded(timeout: float | None, error: type[Exception]) -> float | None:
    """An operation's timeout, cut to what is left of the deadline; ``error`` once none is."""
    current: _Deadline | None = getattr(_local, "deadline", None)
    if current is None:
        return timeout
    left = current.at - time.monotonic()
    if left <= 0:
        raise error(f"no complete answer within {current.seconds:g} s")
    return left if timeout is None else min(timeout, left)


def _timed(
    operation: Callable[[float | None], T], timeout: float | None, error: type[Exception]
) -> T:
    """Run a network operation by the deadline; a timeout the deadline caused says so."""
    try:
        return operation(_bounded(timeout, error))
    except error:
        _bounded(None, error)
        raise


class _BoundedStream(httpcore.NetworkStream):
    """A connection whose every operation ends by the deadline of the thread using it."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return _timed(partial(self._inner.read, max_bytes), timeout, httpcore.ReadTimeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        _timed(partial(self._inner.write, buffer), timeout, httpcore.WriteTimeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        secured = _timed(
            partial(self._inner.start_tls, ssl_context, server_hostname),
            timeout,
            httpcore.ConnectTimeout,
        )
        return _BoundedStream(secured)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.NetworkBackend):
    """Connects to a host's addresses only once each of them has been accepted."""

    def __init__(self, allowed: AllowedHosts) -> None:
        self._allowed = allowed
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        # The name alone first: a name reserved for local networks is not even resolved.
        destinations.check_addresses(host, [], self._allowed, what="Refused")
        try:
            addresses = destinations.resolve(host, port, _bounded(timeout, httpcore.ConnectTimeout))
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc)) from None
        except (OSError, UnicodeError, ValueError) as exc:
            raise httpcore.ConnectError(f"{host} does not resolve: {exc}") from None
        destinations.check_addresses(host, addresses, self._allowed, what="Refused")
        failed: Exception = httpcore.ConnectError(f"{host} has no address")
        for address in addresses:
            connect = partial(
                self._inner.connect_tcp,
                str(address),
                port,
                local_address=local_address,
                socket_options=socket_options,
            )
            try:
                stream = _timed(connect, timeout, httpcore.ConnectTimeout)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failed = exc
                continue
            return _BoundedStream(stream)
        raise failed

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise RefusedDestination("Refused: webhooks are delivered over TCP only")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's transport, with a connection pool that connects through the guarded backend."""

    def __init__(self, allowed: AllowedHosts) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(allowed),
        )


def delivery_client(allowed: AllowedHosts, headers: Mapping[str, str]) -> httpx.Client:
    """A client for webhook deliveries: checked destinations, no redirects, no proxies."""
    return httpx.Client(
        headers=dict(headers),
        transport=_GuardedTransport(allowed),
        follow_redirects=False,
        trust_env=False,
    )
