"""The migrations build exactly the schema the code declares, on each backend."""

import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine
from sqlalchemy.exc import SAWarning

from scimgate.store.tables import metadata


def test_migrated_schema_matches_the_tables(engine: Engine) -> None:
    with engine.connect() as conn, warnings.catch_warnings():
        # No index is on an expression (the one on the log's lower(user_name) is gone): an
        # index SQLAlchemy cannot reflect, and so would not compare, fails the test.
        warnings.simplefilter("error", SAWarning)
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []
