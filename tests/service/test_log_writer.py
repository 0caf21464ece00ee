"""The provisioning log's writer: entries arriving together share a transaction, and none is lost.

While the writer waits for the database, the entries that arrive queue up and
go in together; an entry the database refuses (here: one naming a directory
that does not exist) costs only itself.
"""

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import replace

from sqlalchemy import Engine, event, func, select, text

from scimgate.config import LogPolicy
from scimgate.service.administration import tenants
from scimgate.service.operations.log_writer import LogWriter
from scimgate.service.operations.provisioning_log import CapturedRequest
from scimgate.store.engine import writer
from scimgate.store.ids import new_id, utcnow
from scimgate.store.tables.logs import provisioning_logs
from scimgate.store.tenants import Directory
from scimgate.store.transactions import reading

ENTRIES = 40


def _captured(directory: Directory, request_id: str) -> CapturedRequest:
    return CapturedRequest(
        directory=directory,
        request_id=request_id,
        received_at=utcnow(),
        method="GET",
        path=f"/scim/v2/{directory.id}/Users",
        query="filter=userName+eq+%22a%40b.example%22",
        status=200,
        latency_ms=1,
        user_agent="Okta SCIM Client 1.0.0",
        request_body=None,
        response_body=json.dumps({"totalResults": 0}).encode(),
    )


@contextmanager
def _database_busy(engine: Engine) -> Iterator[None]:
    """Hold the log's table so the writer waits, as it does behind a long transaction."""
    if engine.dialect.name == "sqlite":
        with writer(engine):
            yield
        return
    with engine.begin() as conn:
        conn.execute(text("LOCK TABLE provisioning_logs IN EXCLUSIVE MODE"))
        yield


@contextmanager
def _log_inserts(engine: Engine) -> Iterator[list[str]]:
    """Every statement that inserts log entries (one per batch: the rows go as parameters)."""
    inserts: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO PROVISIONING_LOGS"):
            inserts.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield inserts
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def test_entries_that_wait_together_are_written_together(engine: Engine) -> None:
    organization = tenants.create_organization(engine, "log writer")
    directory = tenants.create_directory(engine, organization.id, "a").directory
    writer = LogWriter(engine, LogPolicy())
    ids = [f"together-{new_id()}" for _ in range(ENTRIES)]
    with _log_inserts(engine) as inserts:
        with _database_busy(engine), ThreadPoolExecutor(8) as threads:
            futures = list(threads.map(lambda i: writer.submit(_captured(directory, i)), ids))
        wait(futures, timeout=30)
    assert all(future.done() and future.exception() is None for future in futures)
    with reading(engine) as conn:
        stored = conn.execute(
            select(func.count()).where(provisioning_logs.c.request_id.in_(ids))
        ).scalar_one()
    assert stored == ENTRIES
    # The first entry may have been taken alone before the rest queued behind it.
    assert len(inserts) <= 2


def test_an_entry_the_database_refuses_costs_only_itself(engine: Engine) -> None:
    organization = tenants.create_organization(engine, "log writer refusal")
    directory = tenants.create_directory(engine, organization.id, "a").directory
    nowhere = replace(directory, id=new_id())
    writer = LogWriter(engine, LogPolicy())
    ids = [f"refused-{new_id()}" for _ in range(6)]
    with _database_busy(engine):
        futures = [
            writer.submit(_captured(nowhere if n == 3 else directory, request_id))
            for n, request_id in enumerate(ids)
        ]
    wait(futures, timeout=30)
    assert all(future.done() for future in futures)
    assert stored_request_ids(engine, ids) == set(ids) - {ids[3]}


def stored_request_ids(engine: Engine, ids: list[str]) -> set[str]:
    """Which of the request ids have an entry in the log."""
    with reading(engine) as conn:
        return set(
            conn.execute(
                select(provisioning_logs.c.request_id).where(
                    provisioning_logs.c.request_id.in_(ids)
                )
            ).scalars()
        )
