"""The scale-out bench's reading of PostgreSQL's CPU: the run's backends, and PostgreSQL's own
processes, which work for every database."""

import sys
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
    assert postgresql_cpu(postgres_url, wanted=False) == {"backends": {}, "shared": {}}
