"""PostgreSQL: SCIM requests wait for the database on the event loop, in greenlets.

Each request's statements run on the loop's own thread, many requests at once, and a
request cancelled while its call runs still waits for the call to end, as one in a
worker thread does. A credential stamp is read with no lock held over the round trip:
a greenlet holding one while it waits on the loop would stop every other request. The
loop's connections are closed with the process's engine.
"""

import asyncio
import secrets
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.util import await_only

from scim_payloads import user
from scimgate.api.app import create_app
from scimgate.api.loop_greenlets import in_greenlet
from scimgate.config import Settings
from scimgate.service.administration import tenants
from scimgate.store.engine import open_engine
from scimgate.store.stamps import KEPT_CONNECTIONS

WAIT = 60.0
"""Seconds a test waits for its requests; never reached unless the loop is stuck."""

REQUESTS = 24
"""Requests sent at once: more than the stamps' kept connections."""

_Result = TypeVar("_Result")


def _within_wait(coroutine: Coroutine[Any, Any, _Result]) -> _Result:
    """``asyncio.run(coroutine)`` in a thread of its own, failing the test if it is not done
    within ``WAIT`` (a loop stopped by a blocked greenlet never times itself out)."""
    outcome: list[_Result] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(asyncio.run(coroutine))
        except BaseException as exc:  # the test's to see
            failure.append(exc)

    thread = threading.Thread(target=run, name="test-event-loop", daemon=True)
    thread.start()
    thread.join(WAIT)
    assert not thread.is_alive(), "the event loop was stuck"
    if failure:
        raise failure[0]
    return outcome[0]


def test_many_requests_at_once_run_their_statements_on_the_loop(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's short requests run on the loop, its others in worker threads")
    app = create_app(Settings(database_url=database_url))
    scim_engine: Engine = app.state.scim_engine
    threads: set[int] = set()
    token_reads: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        threads.add(threading.get_ident())
        if "scim_tokens" in statement:
            token_reads.append(statement)

    event.listen(scim_engine, "before_cursor_execute", seen)
    backends: set[int] = set()

    def opened(connection: Any, _record: Any) -> None:
        backends.add(connection.driver_connection.info.backend_pid)

    event.listen(scim_engine, "connect", opened)
    organization = tenants.create_organization(app.state.engine, "greenlets")
    made = tenants.create_directory(app.state.engine, organization.id, "greenlets")
    run = secrets.token_hex(3)
    names = [f"u{n}-{run}@greenlets.example" for n in range(REQUESTS)]

    async def at_once() -> tuple[int, list[httpx.Response], list[httpx.Response]]:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url=f"http://testserver/scim/v2/{made.directory.id}",
            headers={"Authorization": f"Bearer {made.token.secret}"},
        ) as client:
            # The token, now known; the directory, now active and its IdP noted (each moves
            # its credential stamp once).
            for _ in range(2):
                assert (await client.get("/Users")).status_code == 200
            threads.clear()
            token_reads.clear()
            created = await asyncio.gather(*(client.post("/Users", json=user(n)) for n in names))
            found = await asyncio.gather(
                *(client.get("/Users", params={"filter": f'userName eq "{n}"'}) for n in names)
            )
        return threading.get_ident(), created, found

    try:
        loop_thread, created, found = _within_wait(at_once())
        assert app.state.credentials._stamps._kept <= KEPT_CONNECTIONS
    finally:
        app.state.engine.dispose()
    assert [answer.status_code for answer in created] == [201] * REQUESTS
    assert [answer.json()["totalResults"] for answer in found] == [1] * REQUESTS
    assert threads == {loop_thread}
    # The token stayed known: its stamp was read each time, on a pooled connection when the
    # kept ones were in use, and the token was never read again.
    assert token_reads == []
    # Disposing of the process's engine closed the loop's connections, the stamps' too.
    assert backends
    watching = open_engine(database_url)
    try:
        with watching.connect() as conn:
            for _ in range(100):
                still = conn.execute(
                    text("SELECT pid FROM pg_stat_activity WHERE pid = ANY(:pids)"),
                    {"pids": sorted(backends)},
                ).all()
                if not still:
                    break
                time.sleep(0.05)
    finally:
        watching.dispose()
    assert still == []


def test_a_cancelled_request_waits_for_its_call_to_end() -> None:
    ended: list[str] = []

    def call() -> str:
        await_only(asyncio.sleep(0.2))  # a round trip: the greenlet waits on the loop
        ended.append("call")
        return "done"

    async def cancelling() -> list[str]:
        request = asyncio.ensure_future(in_greenlet(call))
        await asyncio.sleep(0.05)
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
        return list(ended)

    assert _within_wait(cancelling()) == ["call"]
