"""The migrations build exactly the schema the code declares, on each backend."""

import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine
from sqlalchemy.exc import SAWarning

from scimgate.store.tables import metadata


def test_migrated_schema_matches_the_tables(engine: Engine) -> None:
    with engine.connect() as conn, warnings.catch_warnings():
        # SQLAlchemy does not reflect SQLite's index on an expression (the log's search by a
        # folded userName): both it and Alembic say so, and the comparison leaves that index
        # out on SQLite. PostgreSQL compares it.
        warnings.filterwarnings(
            "ignore", "Skipped unsupported reflection of expression-based index", SAWarning
        )
        warnings.filterwarnings("ignore", "autogenerate skipping .* expression-based index")
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []
