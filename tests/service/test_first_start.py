"""Several processes starting at once on an empty PostgreSQL database: one migrates, one seeds."""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import postgres_database
from scimgate.service.administration import admin_keys, tenants
from scimgate.service.administration.bootstrap import Bootstrap, prepare_database
from scimgate.store.engine import open_engine

STARTING = 4


@pytest.fixture
def empty_postgres(database_url: str) -> Iterator[str]:
    if not database_url.startswith("postgresql"):
        pytest.skip("concurrent start-up is a PostgreSQL matter: SQLite serves one process")
    with postgres_database("scimgate_start") as url:
        yield url


def test_servers_starting_together_migrate_once_and_seed_one_demo(empty_postgres: str) -> None:
    engines = [open_engine(empty_postgres) for _ in range(STARTING)]
    try:
        with ThreadPoolExecutor(STARTING) as pool:
            started: list[Bootstrap] = list(pool.map(prepare_database, engines))
        assert sum(each.created is not None for each in started) == 1
        assert sum(each.admin_key is not None for each in started) == 1
        assert len(tenants.list_directories(engines[0])) == 1
        assert len(admin_keys.list_keys(engines[0])) == 1
    finally:
        for engine in engines:
            engine.dispose()
