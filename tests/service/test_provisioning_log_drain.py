"""A stopping server writes every provisioning-log entry still queued.

No request waits for its entry: the request is over once the entry is queued,
to be written with the entries of the moment. A server's lifespan drains the
log once its last request has ended: the batch still gathering is written at
once, and a batch waiting for the database is waited for.
"""

import asyncio
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from loop_support import run_apart
from scim_payloads import user
from scimgate.api.app import create_app
from scimgate.api.provisioning_log import ProvisioningLog
from scimgate.api.scim_edge import DIRECTORY_KEY
from scimgate.config import LogPolicy, Settings
from scimgate.service.administration import tenants
from scimgate.service.operations import log_writer, provisioning_log
from scimgate.store.ids import new_id
from scimgate.store.tenants import Directory
from test_log_writer import _database_busy, stored_request_ids


@pytest.fixture
def slow_gathering(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Batches that would gather for a minute: only a drain writes them within a test."""
    monkeypatch.setattr(log_writer, "GATHER_SECONDS", 60.0)
    monkeypatch.setattr(log_writer, "GATHER_LIMIT_SECONDS", 60.0)
    yield


def _scope(engine: Engine, directory: Directory, request_id: str) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "GET",
        "path": f"/scim/v2/{directory.id}/Users",
        "query_string": b"",
        "headers": [(b"user-agent", b"Okta SCIM Client 1.0.0")],
        "app": SimpleNamespace(state=SimpleNamespace(engine=engine)),
        "state": {DIRECTORY_KEY: directory, "request_id": request_id},
    }


def _answered(log: ProvisioningLog, scope: dict[str, Any]) -> None:
    """A request answered 200: its entry queued, and the request over."""
    capture = log.capture(scope)
    capture.received({"type": "http.request", "body": b""})
    capture.sent({"type": "http.response.start", "status": 200, "headers": []})
    capture.sent({"type": "http.response.body", "body": json.dumps({"totalResults": 0}).encode()})
    capture.finish()


@contextmanager
def _held_up(engine: Engine) -> Iterator[None]:
    """The log's table held from another thread (on SQLite, this process's write turn), as a
    long transaction holds it: no batch is written until the block ends."""
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with _database_busy(engine):
            holding.set()
            release.wait()

    thread = threading.Thread(target=hold)
    thread.start()
    holding.wait()
    try:
        yield
    finally:
        release.set()
        thread.join()


def _directory(engine: Engine) -> Directory:
    organization = tenants.create_organization(engine, f"log drain {secrets.token_hex(3)}")
    return tenants.create_directory(engine, organization.id, "a").directory


def test_a_drain_writes_the_batch_still_gathering(engine: Engine, slow_gathering: None) -> None:
    directory = _directory(engine)
    log = ProvisioningLog(LogPolicy())
    ids = [f"drain-{new_id()}" for _ in range(3)]

    async def stopping() -> set[str]:
        for each in ids:
            _answered(log, _scope(engine, directory, each))
        unwritten = stored_request_ids(engine, ids)
        await asyncio.wait_for(log.drain(), timeout=30)
        return unwritten

    assert run_apart(stopping()) == set()  # gathering, not written, until the drain
    assert stored_request_ids(engine, ids) == set(ids)


def test_a_drain_waits_for_a_batch_the_database_holds_up(engine: Engine) -> None:
    directory = _directory(engine)
    log = ProvisioningLog(LogPolicy())
    ids = [f"drain-{new_id()}" for _ in range(3)]

    async def stopping() -> bool:
        with _held_up(engine):
            for each in ids:
                _answered(log, _scope(engine, directory, each))
            drained = asyncio.create_task(log.drain())
            await asyncio.sleep(0.3)
            waited = not drained.done()
        await asyncio.wait_for(drained, timeout=30)
        return waited

    assert run_apart(stopping()), "the drain ended before the batch could be written"
    assert stored_request_ids(engine, ids) == set(ids)


def test_a_stopping_server_writes_the_entries_of_its_last_requests(
    database_url: str, slow_gathering: None
) -> None:
    app = create_app(Settings(database_url=database_url))
    engine = app.state.engine
    organization = tenants.create_organization(engine, f"log drain {secrets.token_hex(3)}")
    created = tenants.create_directory(engine, organization.id, "a")
    base = f"/scim/v2/{created.directory.id}"
    headers = {"Authorization": f"Bearer {created.token.secret}"}
    with TestClient(app) as client:
        for name in ("ann", "bob"):
            answer = client.post(f"{base}/Users", json=user(f"{name}@example.com"), headers=headers)
            assert answer.status_code == 201, answer.text
        gathering = provisioning_log.search(engine, created.directory.id).entries
    assert gathering == []  # the batch gathers for a minute: the server stops first
    logged = provisioning_log.search(engine, created.directory.id).entries
    assert sorted((entry.method, entry.status) for entry in logged) == [("POST", 201)] * 2
