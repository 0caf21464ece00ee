"""The scale-out bench's readings: PostgreSQL's CPU (the run's backends, and PostgreSQL's own
processes, which work for every database), and the latencies the server measured itself."""

import sys
import time
from pathlib import Path

import psycopg
from sqlalchemy import Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from measurements import percentile
from scaling import misses, postgresql_cpu, server_latencies_ms

from conftest import POSTGRES_DSN
from factories import log_entry
from scimgate.service.administration import tenants
from scimgate.store import provisioning_logs
from scimgate.store.transactions import writing


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


def test_the_servers_own_latencies_are_read_from_its_log(sqlite_engine: Engine) -> None:
    organization = tenants.create_organization(sqlite_engine, "bench")
    directory_id = tenants.create_directory(sqlite_engine, organization.id, "d").directory.id
    lookup = misses()[0].path.partition("?")[2]
    entries = [
        log_entry(directory_id, method="POST", status=201, latency_ms=12),
        log_entry(directory_id, method="POST", status=201, latency_ms=7),
        log_entry(directory_id, query=lookup, latency_ms=3),
        log_entry(directory_id, query=lookup, latency_ms=950),
        # A directory's first request, before the loads: neither a create nor a lookup.
        log_entry(directory_id, query="count=0", latency_ms=400),
    ]
    with writing(sqlite_engine) as conn:
        provisioning_logs.insert(conn, entries)

    found = server_latencies_ms(str(sqlite_engine.url))

    assert sorted(found["creates"]) == [7, 12]
    assert sorted(found["lookups"]) == [3, 950]


def test_a_percentile_is_the_nearest_rank() -> None:
    latencies = list(range(1, 201))  # 1 to 200 ms
    assert percentile(latencies, 0.99) == 198
    assert percentile(latencies, 0.5) == 100
    assert percentile([5], 0.99) == 5
    assert percentile([9, 1, 4], 1.0) == 9
    assert percentile([], 0.99) == 0
