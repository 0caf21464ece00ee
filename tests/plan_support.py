"""The database's own plan for a statement the code ran, for the tests of query plans."""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import Engine, event


@contextmanager
def statements_where(
    engine: Engine, kept: Callable[[str], bool]
) -> Iterator[list[tuple[str, Any]]]:
    """The statements the engine runs within the block that ``kept`` accepts, with their
    parameters, in the order they ran."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if kept(statement):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def statements_naming(engine: Engine, marker: str) -> AbstractContextManager[list[tuple[str, Any]]]:
    """The statements the engine runs within the block whose text holds ``marker``."""
    return statements_where(engine, lambda statement: marker in statement)


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
