"""Helpers for webhook tests: a receiving server, delivery workers, directories of one org."""

import json
import os
import secrets
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import LOOPBACK_RECEIVERS, DirectoryClient, LiveServer
from process_support import Restartable, shared_launcher
from scimgate.config import AllowedHosts, EventSettings
from scimgate.service.administration import tenants
from scimgate.service.event_stream.delivery import RetryPolicy
from scimgate.service.event_stream.worker import CONCURRENCY, IDLE_SECONDS, Worker
from scimgate.store.engine import open_engine

WAIT_SECONDS = 20.0

LOOPBACK = AllowedHosts.parse(LOOPBACK_RECEIVERS["SCIMGATE_WEBHOOK_ALLOWED_HOSTS"])
"""What the tests allow besides public addresses: their receivers, on loopback."""


@dataclass(frozen=True)
class Received:
    """One request the receiver got: its path, headers (lower-case names) and body."""

    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.body)
        return found

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass(frozen=True)
class Reply:
    status: int = 200
    delay: float = 0.0
    """Seconds to hold the request open before answering."""

    release: threading.Event | None = None
    """When given, the hold ends as soon as this is set: the test lets the answer go when it
    has seen what it waited for, and the delay only bounds the hold."""

    body: str = "ok"
    headers: dict[str, str] = field(default_factory=dict)


Plan = Callable[[Received], Reply]


@dataclass
class Receiver:
    """An HTTP server on a loopback port that records every request and answers per its plan.

    The plan may be changed while the server runs; each endpoint of a test can
    use its own path on the one receiver.
    """

    server: ThreadingHTTPServer
    plan: Plan = field(default=lambda _: Reply())
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def received(self, path: str | None = None) -> list[Received]:
        with self.lock:
            return [each for each in self.requests if path is None or each.path == path]

    def answered(self, request: Received) -> Reply:
        with self.lock:
            self.requests.append(request)
            plan = self.plan
        return plan(request)


@contextmanager
def receiving() -> Iterator[Receiver]:
    holder: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            if len(body) < length:
                return  # the sender died mid-request (a killed worker): nothing was delivered
            request = Received(
                self.path, {name.lower(): value for name, value in self.headers.items()}, body
            )
            reply = holder[0].answered(request)
            if reply.release is None:
                time.sleep(reply.delay)
            else:
                reply.release.wait(reply.delay)
            payload = reply.body.encode()
            with suppress(OSError):  # the sender may have gone (a killed worker)
                self.send_response(reply.status)
                self.send_header("content-type", "text/plain")
                self.send_header("content-length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(server)
    holder.append(receiver)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Trickler:
    """A receiver that answers 200 at once, then its body one byte at a time, for a long time.

    It records each connection: when it was accepted and whether the sender
    has closed it, and how many were open at once.
    """

    port: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    connections: int = 0
    open_now: int = 0
    most_open: int = 0

    def url(self, path: str = "/slow") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def opened(self) -> None:
        with self.lock:
            self.connections += 1
            self.open_now += 1
            self.most_open = max(self.most_open, self.open_now)

    def closed(self) -> None:
        with self.lock:
            self.open_now -= 1


def _read_request(conn: socket.socket) -> None:
    """Read one request's head and body (by its content-length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lengths = [
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    ]
    while len(body) < (lengths[0] if lengths else 0):
        chunk = conn.recv(65536)
        if not chunk:
            return
        body += chunk


@contextmanager
def trickling(length: int, every: float = 1.0, piece: bytes = b".") -> Iterator[Trickler]:
    """A loopback receiver whose answers' bodies (``length`` pieces) come a piece every ``every``
    seconds: the answer begins at once and is not complete for ``length * every`` seconds."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    trickler = Trickler(listener.getsockname()[1])
    stopping = threading.Event()

    def answer(conn: socket.socket) -> None:
        trickler.opened()
        try:
            with conn:
                _read_request(conn)
                size = length * len(piece)
                head = f"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {size}"
                conn.sendall(head.encode() + b"\r\n\r\n")
                for _ in range(length):
                    # Wait a byte's interval, watching for the sender closing the connection.
                    readable, _, _ = select.select([conn], [], [], every)
                    if stopping.is_set() or (readable and not conn.recv(1)):
                        return
                    conn.sendall(piece)
        except OSError:
            pass
        finally:
            trickler.closed()

    def accept() -> None:
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield trickler
    finally:
        stopping.set()
        thread.join(5)
        listener.close()


def wait_until(condition: Callable[[], bool], what: str, timeout: float = WAIT_SECONDS) -> None:
    """Poll until the condition holds; fail naming what did not happen in time."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"within {timeout} s: {what}")
        time.sleep(0.05)


def wait_while_progressing(
    done: Callable[[], int], goal: int, what: str, stall: float = WAIT_SECONDS
) -> None:
    """Poll until ``done()`` reaches ``goal``; fail only when it stops moving for ``stall``
    seconds, so that a long backlog on a slow machine is waited for and a stuck one is not."""
    reached, moved = done(), time.monotonic()
    while reached < goal:
        if time.monotonic() - moved > stall:
            raise AssertionError(f"no progress for {stall} s at {reached} of {goal}: {what}")
        time.sleep(0.05)
        now = done()
        if now > reached:
            reached, moved = now, time.monotonic()


@contextmanager
def worker_thread(
    database_url: str,
    schedule: tuple[float, ...] = (0.2,) * 50,
    lease_seconds: float = 30.0,
    concurrency: int = CONCURRENCY,
    *,
    timeout: float = 5.0,
    allowed: AllowedHosts = LOOPBACK,
    idle: float = IDLE_SECONDS,
) -> Iterator[Worker]:
    """A delivery worker running in this process until the block ends.

    ``idle`` is how long it waits, when it has nothing to do, before it looks again: a test
    that waits for retries lets it look more often than a deployed worker does.
    """
    worker = Worker(
        open_engine(database_url),
        EventSettings(
            webhook_timeout=timeout, lease_seconds=lease_seconds, webhook_allowed_hosts=allowed
        ),
        RetryPolicy(delays=schedule),
        concurrency=concurrency,
        idle_seconds=idle,
    )
    stopping = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stopping,), daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        stopping.set()
        thread.join(30)
        assert not thread.is_alive(), "the worker did not stop"


def start_worker_process(
    database_url: str, log: Path, **environment: str
) -> subprocess.Popen[bytes]:
    """``scimgate worker`` as its own process; its output goes to ``log``."""
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "scimgate", "worker", "--database-url", database_url],
            env={**os.environ, **LOOPBACK_RECEIVERS, **environment},
            stdout=output,
            stderr=subprocess.STDOUT,
        )


@contextmanager
def worker_processes(
    database_url: str, log_dir: Path, count: int = 1, **environment: str
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Worker processes, stopped with SIGTERM (the clean way) when the block ends."""
    started = [
        start_worker_process(database_url, log_dir / f"worker-{index}.log", **environment)
        for index in range(count)
    ]
    try:
        yield started
    finally:
        stop_processes(started)


def forked_worker(database_url: str, log: Path, **environment: str) -> Restartable:
    """``scimgate worker`` as its own process, forked by this test process's launcher
    (``process_support``): it starts at once, without importing scimgate again, and can
    be killed (``kill``) or stopped with SIGTERM (``stop``). Its output goes to ``log``."""
    worker = Restartable(
        shared_launcher(), "worker", database_url, log, {**LOOPBACK_RECEIVERS, **environment}
    )
    worker.start()
    return worker


@contextmanager
def forked_workers(
    database_url: str, log_dir: Path, count: int = 1, **environment: str
) -> Iterator[list[Restartable]]:
    """Forked worker processes (``forked_worker``), stopped with SIGTERM when the block ends."""
    started: list[Restartable] = []
    try:
        for index in range(count):
            log = log_dir / f"worker-{index}.log"
            started.append(forked_worker(database_url, log, **environment))
        yield started
    finally:
        for worker in started:
            worker.stop()


def stop_processes(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class Organization:
    id: str
    directories: list[DirectoryClient]


def organization_with(server: LiveServer, count: int) -> Organization:
    """A new organization with ``count`` directories, each with its SCIM client."""
    organization = tenants.create_organization(server.engine, f"org {secrets.token_hex(3)}")
    clients = []
    for index in range(count):
        created = tenants.create_directory(server.engine, organization.id, f"directory {index}")
        base_url = f"{server.url}/scim/v2/{created.directory.id}"
        http = httpx.Client(
            base_url=base_url,
            headers={
                "Authorization": f"Bearer {created.token.secret}",
                "Content-Type": "application/scim+json",
            },
            timeout=30,
        )
        clients.append(DirectoryClient(created.directory.id, created.token.secret, base_url, http))
    return Organization(organization.id, clients)


class Endpoints:
    """Registers endpoints through the management API; the tests' fixture removes them after."""

    def __init__(self, admin: httpx.Client) -> None:
        self.admin = admin
        self.created: list[str] = []

    def register(self, url: str, **body: Any) -> dict[str, Any]:
        answer = self.admin.post("/webhooks", json={"url": url, **body})
        assert answer.status_code == 201, answer.text
        created: dict[str, Any] = answer.json()
        self.created.append(created["id"])
        return created

    def deliveries(self, endpoint_id: str, **params: Any) -> list[dict[str, Any]]:
        answer = self.admin.get(f"/webhooks/{endpoint_id}/deliveries", params=params)
        assert answer.status_code == 200, answer.text
        found: list[dict[str, Any]] = answer.json()["data"]
        return found

    def all_delivered(self, endpoint_id: str, count: int) -> bool:
        found = self.deliveries(endpoint_id)
        return len(found) == count and all(each["status"] == "delivered" for each in found)


@pytest.fixture
def endpoints(admin: httpx.Client) -> Iterator[Endpoints]:
    """Webhook endpoints a test registers, removed after it."""
    registry = Endpoints(admin)
    yield registry
    for endpoint_id in registry.created:
        admin.delete(f"/webhooks/{endpoint_id}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on a loopback port, answering as the test programs it."""
    with receiving() as started:
        yield started
