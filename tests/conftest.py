"""Shared fixtures: real databases (an SQLite file and a PostgreSQL server) and a real server.

Every SCIM test runs once per backend. The server is a separate process
(uvicorn on a free loopback port) driven over HTTP with httpx.
"""

import io
import os
import secrets
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import httpx._transports.default as httpx_transports
import psycopg
import pytest
import structlog
from sqlalchemy import Engine

from process_support import Restartable, shared_launcher
from scimgate.config import PoolSettings
from scimgate.logging import configure
from scimgate.service.administration import tenants
from scimgate.store.engine import open_engine
from scimgate.store.migrate import upgrade

POSTGRES_DSN = os.environ.get("SCIMGATE_TEST_POSTGRES", "host=127.0.0.1 port=5432 user=postgres")
pytest_plugins = ["webhook_support", "portal_support", "browser_support"]
"""Fixtures kept with their helpers: the webhook tests' (``endpoints``, ``receiver``), the
portal's (``portal``) and the browser's (``browser``, ``page``...)."""

BACKENDS = ("sqlite", "postgresql")
ADMIN_TOKEN = secrets.token_urlsafe(24)
"""The live server's admin token, which opens its management API."""

LOOPBACK_RECEIVERS = {"SCIMGATE_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"}
"""Webhooks go to public addresses only, unless allowed: the tests' receivers are on loopback."""

METRICS_TOKEN = secrets.token_urlsafe(24)
"""The live server's metrics token, which opens ``/metrics`` to a scraper."""

SUITE_POOL = PoolSettings(size=10, overflow=20)
"""The pool of the suite's long-lived engines and servers: it runs dozens of them on one
PostgreSQL, whose max_connections (100 here) is far below the 30 connections a process may
keep by default (docs/deployment.md). Each keeps 10 and closes those it opens past them."""

METRICS_AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}


@pytest.fixture(scope="session", autouse=True)
def one_tls_setup_for_every_client() -> Iterator[None]:
    """Every HTTP client of the test process shares one TLS setup.

    httpx builds a new one for each client it makes, loading the whole CA bundle: about
    35 ms of CPU, for servers the tests reach over plain HTTP on loopback. The tests make
    thousands of clients (each ``httpx.get`` is one), so the suite shares one instead. A
    client given its own ``verify`` keeps it.
    """
    shared = httpx.create_ssl_context()
    made = httpx_transports.create_ssl_context

    def one_setup(
        verify: ssl.SSLContext | str | bool = True, cert: Any = None, trust_env: bool = True
    ) -> ssl.SSLContext:
        if verify is True and cert is None:
            return shared
        return made(verify=verify, cert=cert, trust_env=trust_env)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(httpx_transports, "create_ssl_context", one_setup)
        yield


def _postgres_reachable() -> bool:
    try:
        with psycopg.connect(f"{POSTGRES_DSN} dbname=postgres", connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped afterwards."""
    if not _postgres_reachable():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_DSN}; .ci/run starts it")
        pytest.skip("PostgreSQL is not reachable")
    with postgres_database("scimgate_test") as url:
        yield url


@contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database named ``<prefix>_<random>``, dropped afterwards."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(f"{POSTGRES_DSN} dbname=postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    params = dict(item.split("=", 1) for item in POSTGRES_DSN.split())
    try:
        yield (
            f"postgresql+psycopg://{params.get('user', 'postgres')}"
            f"@{params.get('host', '127.0.0.1')}:{params.get('port', '5432')}/{name}"
        )
    finally:
        with psycopg.connect(f"{POSTGRES_DSN} dbname=postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database on each backend: an SQLite file, then PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'scimgate.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    upgrade(open_engine(url))
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Engine:
    return open_engine(database_url, SUITE_POOL)


@pytest.fixture
def other_engine(database_url: str) -> Iterator[Engine]:
    """A second engine on the test database: another process's view of it."""
    engine = open_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The process's log lines as JSON, captured; the default configuration is restored after."""
    captured = io.StringIO()
    configure(json=True, stream=captured)
    yield captured
    structlog.reset_defaults()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A new, migrated SQLite database of the test's own, for what only SQLite does."""
    engine = open_engine(f"sqlite:///{tmp_path / 'scimgate.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def eventually(found: Callable[[], bool], what: str = "not written") -> None:
    """Wait until ``found()`` holds (at most 10 s): the provisioning log, and the token use and
    confirmations written with it, are written after the answer is sent."""
    deadline = time.monotonic() + 10
    while not found():
        assert time.monotonic() < deadline, f"{what} within 10 s"
        time.sleep(0.02)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class LiveServer:
    url: str
    engine: Engine


@contextmanager
def serving(database_url: str, log_path: Path, **env: str) -> Iterator[str]:
    """scimgate in its own process on a loopback port, for a database; yields its URL.

    The process is forked by this test process's launcher (``process_support``), so it
    starts without importing scimgate again; it runs what ``uvicorn --factory
    scimgate.api.app:create_app`` runs, with the environment below.
    """
    port = free_port()
    environment = {
        **os.environ,
        "SCIMGATE_DATABASE_URL": database_url,
        "SCIMGATE_ADMIN_TOKEN": ADMIN_TOKEN,
        # Tests drive servers faster than an IdP may (test_back_pressure.py sets limits).
        "SCIMGATE_DIRECTORY_RATE": "0",
        "SCIMGATE_TOKEN_RATE": "0",
        **LOOPBACK_RECEIVERS,
        # Tests refuse credentials on purpose; tests/test_anonymous_limits.py paces them.
        "SCIMGATE_ANONYMOUS_RATE": "0",
        "SCIMGATE_METRICS_TOKEN": METRICS_TOKEN,
        "SCIMGATE_DB_POOL_SIZE": str(SUITE_POOL.size),
        "SCIMGATE_DB_MAX_OVERFLOW": str(SUITE_POOL.overflow),
        **env,
    }
    server = Restartable(shared_launcher(), "server", str(port), log_path, environment)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, server, log_path)
        yield url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def live_server(
    database_url: str, engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """scimgate running in its own process on a loopback port."""
    log = tmp_path_factory.mktemp("server") / "server.log"
    # Every read confirms what it shows at once, so drift tests need not wait.
    with serving(database_url, log, SCIMGATE_CONFIRMATION_INTERVAL="0") as url:
        yield LiveServer(url, engine)


def _wait_until_up(url: str, server: Restartable, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.exited():
            raise RuntimeError(f"the server exited:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("the server did not start within 90 s")


@dataclass
class DirectoryClient:
    """An httpx client for one directory's SCIM base URL, with its token."""

    directory_id: str
    token: str
    base_url: str
    http: httpx.Client


def new_directory(
    server: LiveServer, name: str = "test", *, dry_run: bool = False
) -> DirectoryClient:
    organization = tenants.create_organization(server.engine, f"org {secrets.token_hex(3)}")
    created = tenants.create_directory(server.engine, organization.id, name, dry_run=dry_run)
    base_url = f"{server.url}/scim/v2/{created.directory.id}"
    http = httpx.Client(
        base_url=base_url,
        headers={
            "Authorization": f"Bearer {created.token.secret}",
            "Content-Type": "application/scim+json",
        },
        timeout=30,
    )
    return DirectoryClient(created.directory.id, created.token.secret, base_url, http)


@pytest.fixture
def scim(live_server: LiveServer) -> Iterator[DirectoryClient]:
    """A fresh, empty directory on the live server."""
    client = new_directory(live_server)
    yield client
    client.http.close()


@pytest.fixture
def admin(live_server: LiveServer) -> Iterator[httpx.Client]:
    """An httpx client for the live server's management API (``/api/v1``), with the admin token."""
    with httpx.Client(
        base_url=f"{live_server.url}/api/v1",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=60,
    ) as client:
        yield client
