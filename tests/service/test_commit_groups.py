"""Group commit: short SCIM writes that arrive together are committed together (SQLite).

Each write runs in a savepoint of the group's transaction: one that fails leaves only
its own changes out; a commit that fails makes none of the group's changes, and every
request of the group is answered with its error. No request is answered before the
commit that makes its change durable.
"""

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.responses import Response

from loop_support import run_apart
from scimgate.api.commit_groups import (
    GATHERING_SECONDS,
    GROUP_LIMIT,
    MOST_TURNS_GATHERING,
    CommitGroups,
    InFlight,
)
from scimgate.store.engine import open_engine, reader, writer
from scimgate.store.errors import Busy
from scimgate.store.migrate import upgrade
from scimgate.store.transactions import committed_together, writing


def _note(engine: Engine, name: str, fail: bool = False) -> Response:
    """A write of one row, in its own writing block; raising after the write when ``fail``."""
    with writing(engine) as conn:
        conn.execute(
            text("INSERT INTO worker_cursors (name, position) VALUES (:name, 1)"), {"name": name}
        )
        if fail:
            raise ValueError(f"{name} failed after writing")
    return Response(name, status_code=201)


def _unsound(engine: Engine) -> Response:
    """A write the commit refuses: a rule of a directory that does not exist, its foreign
    key checked only at commit."""
    with writing(engine) as conn:
        conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
        conn.exec_driver_sql(
            'INSERT INTO role_rules (id, directory_id, kind, "match", role, priority) '
            "VALUES ('r', 'no-such-directory', 'group', 'x', 'admin', 0)"
        )
    return Response("unsound", status_code=201)


def _names(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(text("SELECT name FROM worker_cursors")).scalars())


# The shared transaction


def test_a_failing_write_leaves_only_its_own_changes_out(sqlite_engine: Engine) -> None:
    with committed_together(sqlite_engine):
        _note(sqlite_engine, "before")
        with pytest.raises(ValueError):
            _note(sqlite_engine, "failing", fail=True)
        _note(sqlite_engine, "after")
        assert _names(sqlite_engine) == set(), "nothing is seen by others before the group commits"
    assert _names(sqlite_engine) == {"before", "after"}


def test_a_write_the_database_cannot_take_is_busy_and_costs_only_itself(
    sqlite_engine: Engine,
) -> None:
    """A write of a group that fails for want of the database is answered as a write in a
    transaction of its own would be: ``Busy`` (503, retry), leaving the others' changes in."""
    locked = OperationalError("INSERT …", {}, sqlite3.OperationalError("database is locked"))
    with committed_together(sqlite_engine):
        _note(sqlite_engine, "before")
        with pytest.raises(Busy), writing(sqlite_engine):
            raise locked
        _note(sqlite_engine, "after")
    assert _names(sqlite_engine) == {"before", "after"}


def test_a_commit_that_fails_makes_none_of_the_groups_changes(sqlite_engine: Engine) -> None:
    with pytest.raises(IntegrityError), committed_together(sqlite_engine):
        _note(sqlite_engine, "first")
        _unsound(sqlite_engine)
        _note(sqlite_engine, "last")
    assert _names(sqlite_engine) == set()
    _note(sqlite_engine, "alone")  # and the writer's connection is usable again
    assert _names(sqlite_engine) == {"alone"}


def test_the_shared_transaction_serves_only_its_own_engine(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    other = open_engine(f"sqlite:///{tmp_path / 'other.db'}")
    upgrade(other)
    try:
        with committed_together(sqlite_engine):
            _note(other, "elsewhere")
            assert _names(other) == {"elsewhere"}, "another database's write commits at once"
            _note(sqlite_engine, "here")
        assert _names(sqlite_engine) == {"here"}
    finally:
        other.dispose()


# Gathered on the event loop


def _run_together(engine: Engine, works: list[Callable[[], Response]]) -> list[Any]:
    """Submit every work in the same turn of a new event loop: each one's answer or error."""

    async def submitted() -> list[Any]:
        groups = CommitGroups(engine, asyncio.get_running_loop())
        return await asyncio.gather(*(groups.run(work) for work in works), return_exceptions=True)

    return run_apart(submitted())


def test_writes_submitted_together_are_answered_each_with_its_own_outcome(
    sqlite_engine: Engine,
) -> None:
    outcomes = _run_together(
        sqlite_engine,
        [
            lambda: _note(sqlite_engine, "one"),
            lambda: _note(sqlite_engine, "two", fail=True),
            lambda: _note(sqlite_engine, "three"),
        ],
    )
    assert [getattr(each, "body", None) for each in outcomes] == [b"one", None, b"three"]
    assert isinstance(outcomes[1], ValueError)
    assert _names(sqlite_engine) == {"one", "three"}


def test_a_group_whose_commit_fails_answers_each_of_its_requests_with_the_error(
    sqlite_engine: Engine,
) -> None:
    outcomes = _run_together(
        sqlite_engine,
        [
            lambda: _note(sqlite_engine, "one"),
            lambda: _unsound(sqlite_engine),
            lambda: _note(sqlite_engine, "two"),
        ],
    )
    assert all(isinstance(each, IntegrityError) for each in outcomes)
    assert _names(sqlite_engine) == set()


def test_a_write_begun_in_the_turn_after_the_first_joins_its_group(
    sqlite_engine: Engine,
) -> None:
    """As a request read from its socket just after the group's first write ran: it begins
    to run in the next turn of the loop, and is committed with that write."""
    commits: list[int] = []
    event.listen(sqlite_engine, "commit", lambda conn: commits.append(1))

    async def scenario() -> None:
        groups = CommitGroups(sqlite_engine, asyncio.get_running_loop())
        first = asyncio.ensure_future(groups.run(lambda: _note(sqlite_engine, "first")))
        await asyncio.sleep(0)  # the first write runs up to its group in this turn
        second = asyncio.ensure_future(groups.run(lambda: _note(sqlite_engine, "second")))
        await asyncio.gather(first, second)

    run_apart(scenario())
    assert _names(sqlite_engine) == {"first", "second"}
    assert len(commits) == 1, "both writes were committed together"


def _commits_of_two_writes(
    engine: Engine, in_flight: InFlight, turns_apart: int, busy_seconds: float = 0.0
) -> int:
    """Commits made for two writes of two requests, the second begun ``turns_apart`` turns of
    the loop after the first, each in flight (``in_flight``) from its start to its answer;
    the turn after the first's holds the loop ``busy_seconds`` (other requests' work)."""
    commits: list[int] = []
    event.listen(engine, "commit", lambda conn: commits.append(1))

    async def request(groups: CommitGroups, name: str) -> Response:
        in_flight.enter()
        try:
            return await groups.run(lambda: _note(engine, name))
        finally:
            in_flight.leave()

    async def scenario() -> None:
        groups = CommitGroups(engine, asyncio.get_running_loop(), in_flight)
        first = asyncio.ensure_future(request(groups, "first"))
        for turn in range(turns_apart):
            await asyncio.sleep(0)
            if turn == 0:
                time.sleep(busy_seconds)
        second = asyncio.ensure_future(request(groups, "second"))
        await asyncio.gather(first, second)

    run_apart(scenario())
    assert _names(engine) == {"first", "second"}
    return len(commits)


def test_writes_of_requests_in_flight_together_are_committed_together_turns_apart(
    sqlite_engine: Engine,
) -> None:
    """As the creates of a load generator's two threads, each sending its connections'
    requests as its own answers arrive: a group waits a few turns for them."""
    in_flight = InFlight()
    in_flight.enter()  # another request, in flight from the start
    assert _commits_of_two_writes(sqlite_engine, in_flight, 3) == 1


def test_a_group_waits_no_longer_than_its_turns(sqlite_engine: Engine) -> None:
    in_flight = InFlight()
    in_flight.enter()
    assert _commits_of_two_writes(sqlite_engine, in_flight, MOST_TURNS_GATHERING + 2) == 2


def test_a_group_gathers_past_its_first_turn_only_while_the_turns_are_short(
    sqlite_engine: Engine,
) -> None:
    """Under many connections a turn runs many requests' work: a group that waited three such
    turns would hold its writes for all of them."""
    in_flight = InFlight()
    in_flight.enter()
    busy = GATHERING_SECONDS * 2
    assert _commits_of_two_writes(sqlite_engine, in_flight, 3, busy_seconds=busy) == 2


def test_a_write_alone_in_flight_is_committed_without_waiting(sqlite_engine: Engine) -> None:
    """A client sending one write at a time: nothing else was in flight, so its group does
    not wait for writes that cannot come, and a request begun two turns later finds it
    committed."""
    assert _commits_of_two_writes(sqlite_engine, InFlight(), 2) == 2


def test_more_writes_than_a_group_holds_are_committed_in_several(sqlite_engine: Engine) -> None:
    count = GROUP_LIMIT * 2 + 3
    outcomes = _run_together(
        sqlite_engine,
        [lambda n=n: _note(sqlite_engine, f"n{n}") for n in range(count)],  # type: ignore[misc]
    )
    assert [each.status_code for each in outcomes] == [201] * count
    assert _names(sqlite_engine) == {f"n{n}" for n in range(count)}


def test_a_group_waits_for_a_thread_that_has_the_turn(sqlite_engine: Engine) -> None:
    async def scenario() -> tuple[list[str], set[str]]:
        loop = asyncio.get_running_loop()
        groups = CommitGroups(sqlite_engine, loop)
        held, release = asyncio.Event(), asyncio.Event()
        seen: list[str] = []

        def holding() -> None:
            with writer(sqlite_engine):
                loop.call_soon_threadsafe(held.set)
                asyncio.run_coroutine_threadsafe(release.wait(), loop).result()
                seen.append("released")

        with ThreadPoolExecutor(1) as pool:
            holder = loop.run_in_executor(pool, holding)
            await held.wait()
            answering = asyncio.ensure_future(groups.run(lambda: _note(sqlite_engine, "waited")))
            await asyncio.sleep(0.05)
            assert not answering.done(), "the write waited for the turn"
            release.set()
            await holder
            answer = await answering
            seen.append(f"answered {answer.status_code}")
        return seen, _names(sqlite_engine)

    seen, names = run_apart(scenario())
    assert seen == ["released", "answered 201"]
    assert names == {"waited"}


def test_the_writers_keep_their_savepoints_journal_in_memory(sqlite_engine: Engine) -> None:
    """Past 64 KiB SQLite writes a savepoint's journal to a temporary file, and a create's
    pages pass it; the writers' connection keeps it in memory. Readers keep the default."""
    with committed_together(sqlite_engine):
        _note(sqlite_engine, "journalled")
    with writer(sqlite_engine) as conn:
        kept = conn.connection.driver_connection
        assert kept is not None
        assert kept.execute("PRAGMA temp_store").fetchone() == (2,)  # MEMORY
    with reader(sqlite_engine) as conn:
        read = conn.connection.driver_connection
        assert read is not None and read is not kept
        assert read.execute("PRAGMA temp_store").fetchone() == (0,)  # the default
    assert _names(sqlite_engine) == {"journalled"}
