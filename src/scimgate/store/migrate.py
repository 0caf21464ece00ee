"""Bringing a database to the schema this version of scimgate expects."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).with_name("migrations")

MIGRATION_LOCK = 0x5C1A_0001
FIRST_START_LOCK = 0x5C1A_0002
"""PostgreSQL advisory lock keys: the same in every scimgate process on a database."""


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> None:
    """Apply every migration the database has not seen yet.

    On PostgreSQL, processes starting together take turns: the first migrates,
    the others then find nothing left to do.
    """
    config = alembic_config(engine)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@contextmanager
def first_start_lock(engine: Engine) -> Iterator[None]:
    """One process at a time looks for an empty database and fills it (PostgreSQL; SQLite
    serializes writers anyway)."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as connection:
        connection.exec_driver_sql(f"SELECT pg_advisory_lock({FIRST_START_LOCK})")
        try:
            yield
        finally:
            connection.exec_driver_sql(f"SELECT pg_advisory_unlock({FIRST_START_LOCK})")
            connection.commit()
