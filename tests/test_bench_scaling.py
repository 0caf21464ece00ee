"""The scale-out bench's reading of PostgreSQL's CPU: the run's backends, and PostgreSQL's own
processes, which work for every database."""

import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from scaling import postgresql_cpu

from conftest import POSTGRES_DSN


def test_the_runs_backends_and_postgresqls_own_processes_are_read_apart(postgres_url: str) -> None:
    database = postgres_url.rsplit("/", 1)[1]
    with (
        psycopg.connect(f"{POSTGRES_DSN} dbname={database}") as ours,
        psycopg.connect(f"{POSTGRES_DSN} dbname=postgres") as elsewhere,
    ):
        # PostgreSQL's lasting processes (an autovacuum worker may come and go meanwhile).
        lasting = {
            pid
            for (pid,) in elsewhere.execute(
                "SELECT pid FROM pg_stat_activity WHERE backend_type IN "
                "('checkpointer', 'walwriter', 'background writer')"
            )
        }
        found = postgresql_cpu(postgres_url, wanted=True)

        assert ours.info.backend_pid in found["backends"]
        assert lasting and lasting <= set(found["shared"])
        # Another database's client is neither the run's nor PostgreSQL's own.
        assert elsewhere.info.backend_pid not in found["backends"] | found["shared"]
        assert all(seconds >= 0 for seconds in (found["backends"] | found["shared"]).values())
    assert postgresql_cpu(postgres_url, wanted=False) == {"backends": {}, "shared": {}, "ended": {}}


def test_a_connection_that_came_and_went_is_counted_as_ended(postgres_url: str) -> None:
    database = postgres_url.rsplit("/", 1)[1]
    before = postgresql_cpu(postgres_url, wanted=True)["ended"]
    with psycopg.connect(f"{POSTGRES_DSN} dbname={database}") as gone:
        # Enough work for the clock's ticks (10 ms) to see it.
        gone.execute("SELECT count(*) FROM generate_series(1, 3000000)").fetchone()
    # The postmaster adds a child's time once it has waited for it, moments after it ends.
    deadline = time.monotonic() + 10
    while True:
        after = postgresql_cpu(postgres_url, wanted=True)["ended"]
        (postmaster,) = after
        if after[postmaster] - before[postmaster] >= 0.01 or time.monotonic() > deadline:
            break
        time.sleep(0.05)

    assert after[postmaster] - before[postmaster] >= 0.01
