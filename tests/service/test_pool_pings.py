"""PostgreSQL: a pooled connection is pinged before use only when it has sat idle.

Each test has a database of its own, whose server-side sessions it ends as a
PostgreSQL restart (or a proxy dropping idle connections) would.
"""

import time
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine, text

from conftest import POSTGRES_DSN, postgres_database
from scimgate.store import pool_pings
from scimgate.store.engine import open_engine
from scimgate.store.errors import Busy
from scimgate.store.transactions import reading


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    del postgres_url  # skips the test, or fails it in CI, when PostgreSQL is not reachable
    with postgres_database("scimgate_pings") as url:
        engine = open_engine(url)
        yield engine
        engine.dispose()


def _one(engine: Engine) -> int:
    with reading(engine) as conn:
        return int(conn.execute(text("SELECT 1")).scalar_one())


def _end_sessions(engine: Engine) -> int:
    """End every server session of the engine's database, as a restart would; how many."""
    database = engine.url.database
    with psycopg.connect(f"{POSTGRES_DSN} dbname=postgres", autocommit=True) as conn:
        ended = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s",
            (database,),
        ).fetchone()
    assert ended is not None
    return int(ended[0])


def test_a_connection_lost_while_idle_is_replaced_before_use(
    pg_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pool_pings, "IDLE_SECONDS", 0.05)
    assert _one(pg_engine) == 1
    assert _end_sessions(pg_engine) >= 1
    time.sleep(0.1)
    assert _one(pg_engine) == 1  # the ping found the lost connection: no error reached here


def test_a_connection_used_moments_ago_is_not_pinged(
    pg_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No round trip for a ping under load; a connection lost within the threshold fails
    its transaction as the database being unavailable (503 and a retry), and the pool
    replaces it for the next."""
    monkeypatch.setattr(pool_pings, "IDLE_SECONDS", 60)
    assert _one(pg_engine) == 1
    assert _end_sessions(pg_engine) >= 1
    with pytest.raises(Busy):
        _one(pg_engine)
    assert _one(pg_engine) == 1
