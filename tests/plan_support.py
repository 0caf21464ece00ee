"""The database's own plan for a statement the code ran, for the tests of query plans."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event


@contextmanager
def statements_naming(engine: Engine, marker: str) -> Iterator[list[tuple[str, Any]]]:
    """The statements the engine runs within the block whose text holds ``marker``, with
    their parameters, in the order they ran."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if marker in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


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
