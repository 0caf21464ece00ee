"""The database's own plan for a statement the code ran, for the tests of query plans."""

from typing import Any

from sqlalchemy import Engine


def explained(engine: Engine, statement: str, parameters: Any) -> str:
    """The plan of a recorded statement, as text: on PostgreSQL with sequential scans off,
    so that a plan still scanning a table means no index can serve the statement."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")
            rows = conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)
            return "\n".join(str(row[0]) for row in rows)
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        return "\n".join(str(row[-1]) for row in rows)
