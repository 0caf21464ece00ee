"""The provisioning log on SQLite: entries gathered and written on the event loop.

Entries queued together share one transaction and one future, written on the loop's
own thread; a batch never exceeds its limit; while another thread has the write turn
the batch waits for it without holding the loop, and is written once the turn is left.
"""

import asyncio
import threading
from dataclasses import replace

import pytest
from sqlalchemy import Engine, event

from loop_support import run_apart
from scimgate.api.log_batches import LOOP_BATCH_LIMIT, LoopBatches
from scimgate.config import LogPolicy
from scimgate.service.administration import tenants
from scimgate.store.engine import writer
from scimgate.store.ids import new_id
from scimgate.store.tenants import Directory
from test_log_writer import _captured, _log_inserts, stored_request_ids

WAIT = 30.0
"""Seconds a test waits for a thread to reach a point; never reached unless it is broken."""


@pytest.fixture
def directory(sqlite_engine: Engine) -> Directory:
    organization = tenants.create_organization(sqlite_engine, "log batches")
    return tenants.create_directory(sqlite_engine, organization.id, "a").directory


def test_entries_queued_together_are_written_together_on_the_loop(
    sqlite_engine: Engine, directory: Directory
) -> None:
    ids = [f"together-{new_id()}" for _ in range(10)]
    threads: set[str] = set()

    async def queued() -> tuple[int, str]:
        batches = LoopBatches(sqlite_engine, LogPolicy(), asyncio.get_running_loop())
        written = {id(batches.submit(_captured(directory, each))) for each in ids}
        futures = [batches.submit(_captured(directory, f"{ids[0]}-again"))]
        await asyncio.gather(*futures)
        return len(written), threading.current_thread().name

    with _log_inserts(sqlite_engine) as inserts:

        def seen(*_: object) -> None:
            threads.add(threading.current_thread().name)

        event.listen(sqlite_engine, "before_cursor_execute", seen)
        try:
            futures_seen, loop_thread = run_apart(queued())
        finally:
            event.remove(sqlite_engine, "before_cursor_execute", seen)
    assert futures_seen == 1
    assert len(inserts) == 1
    assert threads == {loop_thread}
    assert stored_request_ids(sqlite_engine, ids) == set(ids)


def test_a_batch_holds_at_most_its_limit(sqlite_engine: Engine, directory: Directory) -> None:
    ids = [f"limit-{new_id()}" for _ in range(LOOP_BATCH_LIMIT + 1)]

    async def queued() -> int:
        batches = LoopBatches(sqlite_engine, LogPolicy(), asyncio.get_running_loop())
        futures = [batches.submit(_captured(directory, each)) for each in ids]
        await asyncio.gather(*futures)
        return len({id(future) for future in futures})

    with _log_inserts(sqlite_engine) as inserts:
        assert run_apart(queued()) == 2
    assert len(inserts) == 2
    assert stored_request_ids(sqlite_engine, ids) == set(ids)


def test_a_batch_waits_for_the_turn_without_holding_the_loop(
    sqlite_engine: Engine, directory: Directory
) -> None:
    ids = [f"turn-{new_id()}" for _ in range(3)]
    held, release = threading.Event(), threading.Event()

    def holding_the_turn() -> None:
        with writer(sqlite_engine):
            held.set()
            assert release.wait(WAIT)

    async def queued() -> list[str]:
        batches = LoopBatches(sqlite_engine, LogPolicy(), asyncio.get_running_loop())
        written = [batches.submit(_captured(directory, each)) for each in ids]
        steps = []
        for _ in range(20):  # the loop keeps running while the batch cannot be written
            await asyncio.sleep(0.01)
            steps.append("ran")
        assert not written[0].done()
        release.set()
        await asyncio.wait_for(asyncio.gather(*written), WAIT)
        return steps

    holder = threading.Thread(target=holding_the_turn)
    holder.start()
    try:
        assert held.wait(WAIT)
        assert len(run_apart(queued())) == 20
    finally:
        release.set()
        holder.join(WAIT)
    assert stored_request_ids(sqlite_engine, ids) == set(ids)


def test_an_entry_the_database_refuses_costs_only_itself(
    sqlite_engine: Engine, directory: Directory
) -> None:
    nowhere = replace(directory, id=new_id())
    ids = [f"refused-{new_id()}" for _ in range(5)]

    async def queued() -> None:
        batches = LoopBatches(sqlite_engine, LogPolicy(), asyncio.get_running_loop())
        futures = [
            batches.submit(_captured(nowhere if n == 2 else directory, each))
            for n, each in enumerate(ids)
        ]
        await asyncio.gather(*futures)

    run_apart(queued())
    assert stored_request_ids(sqlite_engine, ids) == set(ids) - {ids[2]}
