"""SQLite while a server runs: commits leave the WAL alone, and a thread checkpoints it.

A commit that checkpointed held the server's event loop while it copied pages into
the database file; within ``checkpoints_apart`` the writers' connections have SQLite's
automatic checkpoint off, and the checkpointing thread copies the log into the file,
all of it, so that writes start the log over and it does not grow without end.
"""

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Event, Thread, get_ident

import pytest
from sqlalchemy import Engine, text

from loop_support import run_apart
from scimgate.api.loop_turns import posted
from scimgate.store import checkpoints
from scimgate.store.checkpoints import CHECKPOINT_SECONDS, checkpoint, checkpoints_apart
from scimgate.store.engine import open_engine, turn_if_free, writer
from scimgate.store.transactions import writing

WAIT = 30.0


def _autocheckpoint(engine: Engine) -> int:
    with writer(engine) as conn:
        return int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())


def _fill(engine: Engine, rows: int) -> None:
    with writing(engine) as conn:
        conn.execute(
            text("INSERT INTO filler (body) VALUES (:body)"),
            [{"body": "x" * 2000} for _ in range(rows)],
        )


def test_commits_leave_the_log_to_the_checkpointing_thread(tmp_path: Path) -> None:
    database = tmp_path / "scimgate.db"
    engine = open_engine(f"sqlite:///{database}")
    with writing(engine) as conn:
        conn.execute(text("CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT)"))
    assert _autocheckpoint(engine) == 1000
    with checkpoints_apart(engine):
        assert _autocheckpoint(engine) == 0
        with engine.connect() as other:  # a connection opened within: configured alike
            assert other.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == 0
        before = database.stat().st_size
        _fill(engine, 1500)  # about 750 pages: in the log, not yet in the file
        deadline = time.monotonic() + WAIT
        while database.stat().st_size <= before:
            assert time.monotonic() < deadline, "the log was never checkpointed"
            time.sleep(CHECKPOINT_SECONDS / 5)
    assert _autocheckpoint(engine) == 1000
    engine.dispose()


def test_the_log_starts_over_under_a_steady_stream_of_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A passive checkpoint copies the frames there when it began; writes that never pause
    # for long have appended more by its end, and SQLite starts the log over only once all
    # of it is copied. Without the last pass, made with the write turn, the log grows by
    # every page written: larger than all the database file gained.
    monkeypatch.setattr(checkpoints, "LOG_TO_START_OVER", 256)  # these writes' size
    database = tmp_path / "scimgate.db"
    engine = open_engine(f"sqlite:///{database}")
    with writing(engine) as conn:
        conn.execute(text("CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT)"))
    log = Path(f"{database}-wal")
    stop = Event()

    def write_steadily() -> None:
        while not stop.is_set():
            _fill(engine, 6)
            time.sleep(0.002)

    with checkpoints_apart(engine):
        grown_from = database.stat().st_size
        writer_thread = Thread(target=write_steadily)
        writer_thread.start()
        try:
            time.sleep(6 * CHECKPOINT_SECONDS)
        finally:
            stop.set()
            writer_thread.join()
        gained = database.stat().st_size - grown_from
    assert gained > 2_000_000, "too few writes to tell"
    assert log.stat().st_size < gained / 2
    engine.dispose()


def _log_frames(engine: Engine) -> int:
    with writer(engine) as kept:
        driver = kept.connection.driver_connection
        return int(driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])


def test_a_last_pass_handed_to_the_event_loop_runs_there_with_the_write_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkpoints, "LOG_TO_START_OVER", 1)
    engine = open_engine(f"sqlite:///{tmp_path / 'scimgate.db'}")
    with writing(engine) as conn:
        conn.execute(text("CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT)"))
    _fill(engine, 200)
    held_apart: list[tuple[int, bool]] = []

    def turn_free_elsewhere() -> bool:
        with turn_if_free(engine) as free:
            return free

    async def scenario() -> int:
        loop = asyncio.get_running_loop()
        ran = loop.create_future()
        post = posted(engine, loop)

        def on_the_loop(last_pass: Callable[[], None]) -> None:
            def running() -> None:
                with ThreadPoolExecutor(1) as pool:
                    free = pool.submit(turn_free_elsewhere).result()
                held_apart.append((get_ident(), free))
                last_pass()
                ran.set_result(None)

            post(running)

        await asyncio.to_thread(checkpoint, engine, on_the_loop)
        await asyncio.wait_for(ran, WAIT)
        return get_ident()

    loop_thread = run_apart(scenario())
    assert held_apart == [(loop_thread, False)]  # on the loop, no other thread could write
    _fill(engine, 1)  # every frame was copied: this write starts the log over
    assert _log_frames(engine) < 10
    engine.dispose()


def test_postgresql_is_left_as_it_is(postgres_url: str) -> None:
    engine = open_engine(postgres_url)
    with checkpoints_apart(engine), engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
    engine.dispose()


def test_turning_checkpoints_apart_leaves_no_transaction_open(tmp_path: Path) -> None:
    # The writers' kept connection has written (its writes begin IMMEDIATE): switching its
    # checkpoints must not begin a transaction that would keep SQLite's write lock.
    url = f"sqlite:///{tmp_path / 'scimgate.db'}"
    engine, other = open_engine(url), open_engine(url)
    with writing(engine) as conn:
        conn.execute(text("CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT)"))
    with checkpoints_apart(engine):
        with writing(other) as conn:  # another process's writer gets the lock at once
            conn.execute(text("INSERT INTO filler (body) VALUES ('other')"))
        _fill(engine, 1)  # and this process's writers still begin their own transactions
    with writing(other) as conn:
        conn.execute(text("INSERT INTO filler (body) VALUES ('after')"))
    with writer(engine) as kept:
        assert not kept.in_transaction()
    engine.dispose()
    other.dispose()
