"""SQLite while a server runs: commits leave the WAL alone, and a thread checkpoints it.

A commit that checkpointed held the server's event loop while it copied pages into
the database file; within ``checkpoints_apart`` the writers' connections have SQLite's
automatic checkpoint off, and the checkpointing thread copies the log into the file,
all of it, so that writes start the log over and it does not grow without end.
"""

import time
from pathlib import Path
from threading import Event, Thread

from sqlalchemy import Engine, text

from scimgate.store.checkpoints import CHECKPOINT_SECONDS, checkpoints_apart
from scimgate.store.engine import open_engine, writer
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


def test_the_log_starts_over_under_a_steady_stream_of_writes(tmp_path: Path) -> None:
    # A passive checkpoint copies the frames there when it began; writes that never pause
    # for long have appended more by its end, and SQLite starts the log over only once all
    # of it is copied. Without the last pass, made with the write turn, the log grows by
    # every page written: larger than all the database file gained.
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
