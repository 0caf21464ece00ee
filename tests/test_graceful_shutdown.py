"""Graceful shutdown: SIGTERM lets in-flight work finish, and leaves no lease behind.

``scimgate serve`` stops accepting connections, answers the requests it has
begun and commits their changes, and leaves an SQLite database one file;
``scimgate worker`` finishes the deliveries it has leased, records them, and
exits.
"""

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select

from conftest import ADMIN_TOKEN, LOOPBACK_RECEIVERS, LiveServer, free_port, new_directory
from event_support import admin_client, private_database
from scim_payloads import BULK_SCHEMA, user
from scimgate.store.tables.resources import users
from scimgate.store.tables.webhooks import webhook_deliveries
from webhook_support import (
    WAIT_SECONDS,
    Received,
    Reply,
    receiving,
    start_worker_process,
    wait_until,
)

BULK_SIZE = 300

HOLD_SECONDS = 0.5
"""How long the receiver holds a delivery open once the worker has been sent SIGTERM: time for
the worker to take the signal while the delivery is still in flight."""


@pytest.fixture
def private(database_url: str, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    with private_database(database_url, tmp_path) as made:
        yield made


@contextmanager
def scimgate_serve(database_url: str, log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``scimgate serve`` as an operator runs it, webhook worker included; yields URL, process."""
    port = free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "scimgate", "serve", "--port", str(port)],
            env={
                **os.environ,
                "SCIMGATE_DATABASE_URL": database_url,
                "SCIMGATE_ADMIN_TOKEN": ADMIN_TOKEN,
                "SCIMGATE_DIRECTORY_RATE": "0",
                "SCIMGATE_TOKEN_RATE": "0",
                **LOOPBACK_RECEIVERS,
            },
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(url), "the server answers", timeout=60)
        yield url, process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_sigterm_lets_the_server_finish_a_request_in_flight(
    private: tuple[str, Engine], tmp_path: Path
) -> None:
    url, engine = private
    with scimgate_serve(url, tmp_path / "server.log") as (served, process):
        directory = new_directory(LiveServer(served, engine))
        bulk = {
            "schemas": [BULK_SCHEMA],
            "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": f"u{n}", "data": user(f"u{n}")}
                for n in range(BULK_SIZE)
            ],
        }
        answered: list[tuple[httpx.Response, float]] = []
        sender = threading.Thread(
            target=lambda: answered.append(
                (directory.http.post("/Bulk", json=bulk, timeout=120), time.monotonic())
            )
        )
        sender.start()
        wait_until(lambda: _users(engine) > 0, "the bulk request has begun", timeout=60)
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        sender.join(120)
        # uvicorn re-raises SIGTERM once it has shut down: the process ends by that signal.
        ended = process.wait(timeout=60)
        assert ended in (0, -signal.SIGTERM), (tmp_path / "server.log").read_text()
    log = (tmp_path / "server.log").read_text()
    assert "Application shutdown complete" in log
    assert "worker stopped" in log, "the webhook worker of the server process was not stopped"

    response, arrived = answered[0]
    assert arrived > signalled, "the request ended before the signal: the test proves nothing"
    assert response.status_code == 200, response.text
    statuses = {each["status"] for each in response.json()["Operations"]}
    assert statuses == {"201"}
    assert _users(engine) == BULK_SIZE


def test_sigterm_lets_the_worker_finish_its_deliveries_and_release_their_leases(
    database_url: str, engine: Engine, live_server: LiveServer, tmp_path: Path
) -> None:
    signalled = threading.Event()

    def after_the_signal(_: Received) -> Reply:
        """Each delivery stays in flight until SIGTERM has been sent, and a moment after."""
        signalled.wait(WAIT_SECONDS)
        return Reply(delay=HOLD_SECONDS)

    with receiving() as receiver, admin_client(live_server) as admin:
        receiver.plan = after_the_signal
        directory = new_directory(live_server)
        endpoint = admin.post("/webhooks", json={"url": receiver.url("/graceful")})
        assert endpoint.status_code == 201, endpoint.text
        endpoint_id = endpoint.json()["id"]
        try:
            created = directory.http.post("/Users", json=user("leaving.soon@example.com"))
            assert created.status_code == 201
            worker = start_worker_process(database_url, tmp_path / "worker.log")
            try:
                wait_until(lambda: bool(receiver.received("/graceful")), "a delivery arrives")
                worker.send_signal(signal.SIGTERM)
                signalled.set()
                assert worker.wait(timeout=60) == 0
            finally:
                signalled.set()
                if worker.poll() is None:
                    worker.kill()
                    worker.wait()
            with engine.connect() as conn:
                rows = conn.execute(
                    select(webhook_deliveries.c.status, webhook_deliveries.c.lease_owner).where(
                        webhook_deliveries.c.endpoint_id == endpoint_id
                    )
                ).all()
        finally:
            admin.delete(f"/webhooks/{endpoint_id}")
    arrived = len(receiver.received("/graceful"))
    delivered = [row for row in rows if row.status == "delivered"]
    assert len(delivered) == arrived >= 1
    assert all(row.lease_owner is None for row in rows), rows


def _users(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(users)).scalar_one())


def test_a_stopped_server_leaves_its_sqlite_database_one_file(tmp_path: Path) -> None:
    """Once ``scimgate serve`` has stopped, its SQLite database is one file: every connection
    closed, the last of them folded the WAL into it, and a copy of that file alone holds
    every write the server answered."""
    database = tmp_path / "scimgate.db"
    log_path = tmp_path / "server.log"
    with scimgate_serve(f"sqlite:///{database}", log_path) as (served, process):
        printed = log_path.read_text()
        base_url = re.search(r"SCIM base URL: (\S+)", printed)
        token = re.search(r"Bearer token:\s+(\S+)", printed)
        assert base_url and token, printed
        assert base_url.group(1).startswith(served), printed
        created = httpx.post(
            f"{base_url.group(1)}/Users",
            json=user("kept-after-stop"),
            headers={"Authorization": f"Bearer {token.group(1)}"},
            timeout=30,
        )
        assert created.status_code == 201, created.text
        log_files = [Path(f"{database}-wal"), Path(f"{database}-shm")]
        assert all(each.exists() for each in log_files), "no WAL while serving: nothing to show"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) in (0, -signal.SIGTERM), log_path.read_text()
    assert [each.name for each in log_files if each.exists()] == []
    copy = tmp_path / "copy.db"
    shutil.copyfile(database, copy)
    with closing(sqlite3.connect(copy)) as read:
        found = read.execute(
            "SELECT count(*) FROM users WHERE user_name = ?", ("kept-after-stop",)
        ).fetchone()
    assert found == (1,)
