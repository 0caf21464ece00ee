"""Each process's PostgreSQL pool takes its sizes from the environment."""

from contextlib import ExitStack

import pytest
from sqlalchemy import event
from sqlalchemy.pool import QueuePool

from scimgate.config import PoolSettings, Settings
from scimgate.store.engine import open_engine


def test_pool_sizes_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.from_env().pool == PoolSettings(size=30, overflow=0)
    monkeypatch.setenv("SCIMGATE_DB_POOL_SIZE", "3")
    monkeypatch.setenv("SCIMGATE_DB_MAX_OVERFLOW", "1")
    monkeypatch.setenv("SCIMGATE_DB_POOL_TIMEOUT", "2.5")
    assert Settings.from_env().pool == PoolSettings(size=3, overflow=1, timeout=2.5)


def test_the_engine_opens_the_pool_it_is_given() -> None:
    engine = open_engine(
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres", PoolSettings(3, 1)
    )
    pool = engine.pool
    assert isinstance(pool, QueuePool)
    assert (pool.size(), pool._max_overflow, pool._timeout) == (3, 1, 10.0)
    assert pool._pool.use_lifo  # the connections in use stay warm, the others idle
    engine.dispose()


def test_connections_opened_under_load_are_kept_for_the_next(postgres_url: str) -> None:
    """A connection opened and closed again costs PostgreSQL a new backend, caches and plans
    made afresh: the default pool keeps what load made it open."""
    engine = open_engine(postgres_url, PoolSettings())
    opened = 0

    @event.listens_for(engine.pool, "connect")
    def _count(*_: object) -> None:
        nonlocal opened
        opened += 1

    def burst() -> None:
        with ExitStack() as held:
            for _ in range(16):  # as many at once as 16 requests in flight take
                held.enter_context(engine.connect()).exec_driver_sql("SELECT 1")

    try:
        burst()
        assert opened == 16
        burst()
        burst()
        assert opened == 16
    finally:
        engine.dispose()
