"""Each process's PostgreSQL pool takes its sizes from the environment."""

import pytest
from sqlalchemy.pool import QueuePool

from scimgate.config import PoolSettings, Settings
from scimgate.store.engine import open_engine


def test_pool_sizes_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.from_env().pool == PoolSettings(size=10, overflow=20)
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
    engine.dispose()
