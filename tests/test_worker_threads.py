"""The SCIM edge's worker threads: a call runs in the caller's context, within the threads'
limit, on the thread idle since the shortest time, and a cancelled request still waits
for a call that has started (a call that has not started never does)."""

import asyncio
import contextvars
import threading
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from conftest import DirectoryClient
from loop_support import run_apart
from scimgate.api.app import create_app
from scimgate.api.worker_threads import WorkerThreads
from scimgate.config import Settings

WAIT = 30.0
"""Seconds a test waits for a thread to reach a point; never reached unless it is broken."""

request_name: contextvars.ContextVar[str] = contextvars.ContextVar("request_name")


@pytest.fixture
def threads() -> Iterator[WorkerThreads]:
    made = WorkerThreads(size=2)
    yield made
    made.close()


def _in_thread(started: threading.Event, release: threading.Event, ended: list[str]) -> str:
    started.set()
    assert release.wait(WAIT)
    ended.append("call")
    return "done"


def test_a_call_runs_in_a_worker_thread_in_the_callers_context(threads: WorkerThreads) -> None:
    def seen() -> tuple[str, bool]:
        return request_name.get(), threading.current_thread() is threading.main_thread()

    async def calling() -> tuple[str, bool]:
        request_name.set("r-7")
        return await threads.run(seen)

    assert run_apart(calling()) == ("r-7", False)


def test_a_call_s_error_is_raised_to_the_caller(threads: WorkerThreads) -> None:
    def failing() -> None:
        raise LookupError("from the thread")

    with pytest.raises(LookupError, match="from the thread"):
        run_apart(threads.run(failing))


def test_no_more_calls_run_at_once_than_the_threads_allow(threads: WorkerThreads) -> None:
    running, most = 0, 0
    lock = threading.Lock()
    both_busy = threading.Barrier(2, timeout=WAIT)

    def counted() -> str:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        both_busy.wait()  # every call shares a round with another, so two run at once
        with lock:
            running -= 1
        return threading.current_thread().name

    async def many() -> list[str]:
        return await asyncio.gather(*(threads.run(counted) for _ in range(8)))

    names = run_apart(many())
    assert most == 2
    assert len(set(names)) == 2


def test_a_call_goes_to_the_thread_that_went_idle_last(threads: WorkerThreads) -> None:
    all_busy = threading.Barrier(2, timeout=WAIT)

    def meeting() -> str:
        all_busy.wait()  # so that both threads start
        return threading.current_thread().name

    async def calls() -> list[str]:
        started = await asyncio.gather(threads.run(meeting), threads.run(meeting))
        assert len(set(started)) == 2
        alone = [await threads.run(lambda: threading.current_thread().name) for _ in range(4)]
        return alone

    assert len(set(run_apart(calls()))) == 1


def test_a_cancelled_request_waits_for_the_call_it_started(threads: WorkerThreads) -> None:
    started, release = threading.Event(), threading.Event()
    order: list[str] = []

    async def request() -> None:
        try:
            await threads.run(_in_thread, started, release, order)
        except asyncio.CancelledError:
            order.append("request cancelled")
            raise

    async def cancelling() -> None:
        task = asyncio.create_task(request())
        await asyncio.to_thread(started.wait, WAIT)
        task.cancel()
        for _ in range(10):  # turns of the loop in which a request that did not wait would end
            await asyncio.sleep(0)
        assert not task.done()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task

    run_apart(cancelling())
    assert order == ["call", "request cancelled"]


def test_a_call_cancelled_before_it_started_never_runs(threads: WorkerThreads) -> None:
    started = [threading.Event(), threading.Event()]
    release = threading.Event()
    ended: list[str] = []
    never: list[str] = []

    async def cancelling() -> None:
        busy = [
            asyncio.create_task(threads.run(_in_thread, each, release, ended)) for each in started
        ]
        for each in started:  # both threads are taken
            await asyncio.to_thread(each.wait, WAIT)
        waiting = asyncio.create_task(threads.run(never.append, "ran"))
        await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        release.set()
        assert await asyncio.gather(*busy) == ["done", "done"]
        assert await threads.run(len, never) == 0  # after the threads took their next calls

    run_apart(cancelling())
    assert never == []


def test_the_threads_end_with_the_application_and_start_again_with_it(
    database_url: str, scim: DirectoryClient
) -> None:
    app = create_app(Settings(database_url=database_url))
    threads: WorkerThreads = app.scim.threads  # type: ignore[attr-defined]
    users = f"/scim/v2/{scim.directory_id}/Users"
    authorization = {"Authorization": f"Bearer {scim.token}"}
    try:
        with TestClient(app) as client:
            assert client.get(users, headers=authorization).status_code == 200
            served = run_apart(threads.run(threading.current_thread))
        served.join(WAIT)
        assert not served.is_alive()
        with TestClient(app) as client:
            assert client.get(users, headers=authorization).status_code == 200
    finally:
        app.state.engine.dispose()
