"""Requests wait for their provisioning-log entries: together, but each on its own account.

The requests whose entries go in one batch wait on one future of the event
loop; a request cancelled while it waits (the server shutting down, its task
cancelled) must not cancel the wait of the others, nor their entries.
"""

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Engine

from loop_support import run_apart
from scimgate.api.provisioning_log import Capture, ProvisioningLog
from scimgate.api.scim_edge import DIRECTORY_KEY
from scimgate.config import LogPolicy
from scimgate.service.administration import tenants
from scimgate.service.operations import log_writer
from scimgate.store.ids import new_id
from scimgate.store.tenants import Directory
from test_log_writer import _database_busy, stored_request_ids


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


def _answered(log: ProvisioningLog, scope: dict[str, Any]) -> Capture:
    """A request answered 200, its entry queued."""
    capture = log.capture(scope)
    capture.received({"type": "http.request", "body": b""})
    capture.sent({"type": "http.response.start", "status": 200, "headers": []})
    capture.sent({"type": "http.response.body", "body": json.dumps({"totalResults": 0}).encode()})
    return capture


def test_a_request_cancelled_while_waiting_leaves_the_others_waiting(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The batch gathers for a second, so that the three entries surely share it even on
    # a machine too busy to queue them within the usual few milliseconds.
    monkeypatch.setattr(log_writer, "GATHER_SECONDS", 1.0)
    monkeypatch.setattr(log_writer, "GATHER_LIMIT_SECONDS", 1.0)
    organization = tenants.create_organization(engine, "log waits")
    directory = tenants.create_directory(engine, organization.id, "a").directory
    log = ProvisioningLog(LogPolicy())
    ids = [f"waits-{new_id()}" for _ in range(3)]

    async def requests() -> list[BaseException | None]:
        with _database_busy(engine):  # the batch cannot be written until this ends
            captures = [_answered(log, _scope(engine, directory, each)) for each in ids]
            assert len({id(capture.written) for capture in captures}) == 1  # one batch
            waits = [asyncio.create_task(capture.finish()) for capture in captures]
            await asyncio.sleep(0)  # every request is waiting now
            waits[0].cancel()
            await asyncio.sleep(0)
        done = await asyncio.gather(*waits, return_exceptions=True)
        return [result if isinstance(result, BaseException) else None for result in done]

    outcomes = run_apart(requests())
    assert isinstance(outcomes[0], asyncio.CancelledError)
    assert outcomes[1:] == [None, None]
    assert stored_request_ids(engine, ids) == set(ids)
