"""The hot statements, compiled once and handed straight to the database driver.

Executing a statement through SQLAlchemy Core costs 25 to 35 µs of CPU (the compiled
cache lookup, an execution context, a result object), where handing the same SQL
to the driver costs a few. The statements every create, member change and lookup
runs are therefore compiled here once per dialect, from the same Core constructs,
and run on the transaction's own driver connection. The driver keeps them
prepared: sqlite3 caches each statement per connection, psycopg prepares one on
the server once it has run a few times on a connection.

What SQLAlchemy does that matters is kept:

* values go through the columns' own types (their bind and result processors), so
  the same times, JSON text and ids are written and read back;
* a driver error becomes the same SQLAlchemy exception (``IntegrityError`` for a
  unique violation), its parameters hidden, the engine's ``handle_error`` listeners
  see it, and a lost connection is invalidated;
* listeners of ``before_cursor_execute`` and ``after_cursor_execute`` see the
  statement, when there are any: the statement then runs through the connection's
  own cursor execution. Without them it goes to the driver's cursor at once. Whether
  there are any is asked at a transaction's first statement, not at every one.

Only statements whose every value is a named parameter can be prepared: nothing
computed in Python (column defaults), no ``RETURNING``, no expanding ``IN``. That
is checked when one is compiled.

:func:`through_sqlalchemy` makes an engine run them with ``Connection.execute``
instead: the general path, which the tests compare this one with.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, CursorResult, Engine, Executable
from sqlalchemy.engine import Dialect, RootTransaction
from sqlalchemy.sql.compiler import SQLCompiler

from scimgate.records import frozen

Processor = Callable[[Any], Any]

_THROUGH_SQLALCHEMY = "scimgate_through_sqlalchemy"
"""The attribute marking an engine that runs these statements through SQLAlchemy."""

_KEEP_ROWCOUNT = {"preserve_rowcount": True}


def through_sqlalchemy(engine: Engine) -> None:
    """Make an engine run the prepared statements through ``Connection.execute``."""
    setattr(engine, _THROUGH_SQLALCHEMY, True)


@frozen
class _Compiled:
    """A statement as one dialect runs it: its SQL, and how values go in and come out."""

    sql: str
    names: tuple[str, ...]
    """The parameters' names: in the order of their placeholders on a positional dialect
    (SQLite), as the placeholders name them on the others (PostgreSQL)."""

    positional: bool
    fixed: dict[str, Any]
    """The values of the statement's own parameters (not given when it runs)."""

    keys: tuple[str, ...]
    """The result's column names."""

    results: tuple[tuple[int, Processor], ...]
    """The result's columns that have a processor, by position: most have none, and a row
    whose columns have none comes back as the driver gave it."""

    picked: Callable[[Mapping[str, Any]], tuple[Any, ...]]
    """The values of ``names`` from the parameters, in their order, as they were given."""

    processed: tuple[tuple[int, Processor], ...]
    """The places in ``names`` whose values go through their column's bind processor, with
    it (paired once, not at every execution): most have none."""

    def arguments(self, parameters: Mapping[str, Any]) -> Any:
        if self.fixed:
            parameters = {**self.fixed, **parameters}
        values = self.picked(parameters)
        if self.processed:
            listed = list(values)
            for at, process in self.processed:
                listed[at] = process(listed[at])
            values = tuple(listed)
        return values if self.positional else dict(zip(self.names, values, strict=True))

    def row(self, raw: Sequence[Any]) -> tuple[Any, ...]:
        if not self.results:
            return tuple(raw)
        values = list(raw)
        for at, process in self.results:
            if (value := values[at]) is not None:
                values[at] = process(value)
        return tuple(values)


class Prepared:
    """One statement of the hot path; ``column_keys`` names the columns an insert or an
    update sets (what SQLAlchemy would take from the parameters' keys)."""

    def __init__(self, statement: Executable, column_keys: Iterable[str] | None = None) -> None:
        self.statement = statement
        self._column_keys = None if column_keys is None else list(column_keys)
        self._compiled: WeakKeyDictionary[Dialect, _Compiled] = WeakKeyDictionary()
        self._last: tuple[Dialect | None, _Compiled | None] = (None, None)
        """The dialect compiled for last, and what it gave: a process runs one engine, and a
        weak mapping's lookup costs a Python call. One tuple, replaced whole, for threads."""

    def execute(self, conn: Connection, parameters: Mapping[str, Any]) -> int:
        """Run it; the number of rows it changed."""
        way = _way(conn)
        if way is _GENERAL:
            # The driver's count, as the driver path gives it (SQLAlchemy keeps an insert's
            # count only when asked).
            result: CursorResult[Any] = conn.execute(
                self.statement, dict(parameters), execution_options=_KEEP_ROWCOUNT
            )
            return result.rowcount
        compiled = self._compile(conn.dialect)
        cursor = _run(conn, way, compiled, parameters)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def execute_each(self, conn: Connection, parameters: Iterable[Mapping[str, Any]]) -> int:
        """Run it once for each set of parameters, in one call to the driver (``executemany``);
        the number of rows they changed together."""
        listed = list(parameters)
        if len(listed) <= 1:
            return self.execute(conn, listed[0]) if listed else 0
        if _general(conn):
            every = [dict(each) for each in listed]
            return conn.execute(self.statement, every, execution_options=_KEEP_ROWCOUNT).rowcount
        compiled = self._compile(conn.dialect)
        # The driver's own statement, the SQLAlchemy path for it: the cursor events, the
        # exception wrapping and invalidation on a disconnect, as for a single execution.
        result = conn.exec_driver_sql(compiled.sql, [compiled.arguments(each) for each in listed])
        return result.rowcount

    def rows(self, conn: Connection, parameters: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run it; every row it answered, as tuples of the columns' values."""
        way = _way(conn)
        if way is _GENERAL:
            return [tuple(row) for row in conn.execute(self.statement, dict(parameters))]
        compiled = self._compile(conn.dialect)
        cursor = _run(conn, way, compiled, parameters)
        try:
            return [compiled.row(raw) for raw in cursor.fetchall()]
        finally:
            cursor.close()

    def first(self, conn: Connection, parameters: Mapping[str, Any]) -> tuple[Any, ...] | None:
        found = self.rows(conn, parameters)
        return found[0] if found else None

    def first_mapping(
        self, conn: Connection, parameters: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """The first row answered, by column name."""
        row = self.first(conn, parameters)
        if row is None:
            return None
        return dict(zip(self.keys(conn.dialect), row, strict=True))

    def keys(self, dialect: Dialect) -> tuple[str, ...]:
        return self._compile(dialect).keys

    def _compile(self, dialect: Dialect) -> _Compiled:
        last_dialect, last = self._last
        if last_dialect is dialect and last is not None:
            return last
        found = self._compiled.get(dialect)
        if found is None:
            found = self._compiled[dialect] = _compile(self.statement, dialect, self._column_keys)
        self._last = (dialect, found)
        return found


_GENERAL = object()
"""The way of a statement run through ``Connection.execute``."""

_WATCHED = object()
"""The way of a statement run through SQLAlchemy's cursor execution."""

_unwatched: tuple[Connection | None, RootTransaction | None, Any] = (None, None, None)
"""The connection whose statements last went straight to the driver, the transaction they
ran in, and the driver's connection: one tuple, replaced whole, for threads."""


def _way(conn: Connection) -> Any:
    """How a statement runs on ``conn``: ``_GENERAL``, ``_WATCHED``, or else on the driver's
    connection, which is returned.

    It is asked once per transaction, not at every statement: the writes of a commit
    group run several statements each in the group's transaction, and asking SQLAlchemy
    whether the connection has listeners was about half of what the driver's path adds
    to a statement (a create's instructions fell by 3%). A listener added while a
    transaction is open sees the statements of the transactions after it; of that one,
    only if another listener was there at its first statement.
    """
    global _unwatched
    known, transaction, driver = _unwatched
    # A transaction once ended is never active again, and a connection has one at a time.
    if known is conn and transaction is not None and transaction.is_active:
        return driver
    if _general(conn):
        return _GENERAL
    if _watched(conn):
        return _WATCHED
    driver = conn.connection.dbapi_connection
    transaction = conn.get_transaction()
    if transaction is not None:  # None: a read's transaction begun on the driver
        _unwatched = (conn, transaction, driver)
    return driver


def _general(conn: Connection) -> bool:
    # Outside a transaction Connection.execute would begin one (SQLite: by hand). On
    # SQLite a read's transaction is the driver's own (``store.engine.KeptRead``).
    return vars(conn.engine).get(_THROUGH_SQLALCHEMY, False) or not (
        conn.in_transaction() or getattr(conn.connection.driver_connection, "in_transaction", False)
    )


def _run(conn: Connection, way: Any, compiled: _Compiled, parameters: Mapping[str, Any]) -> Any:
    """Run a statement on the driver's connection ``way``, or through SQLAlchemy's cursor
    execution (``_WATCHED``); its cursor."""
    arguments = compiled.arguments(parameters)
    if way is _WATCHED:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            # SQLAlchemy's own path for the statements it runs without a context: the
            # cursor events, the exception wrapping, invalidation on a disconnect.
            conn._cursor_execute(cursor, compiled.sql, arguments)
        except BaseException:
            cursor.close()
            raise
        return cursor
    cursor = way.cursor()
    try:
        cursor.execute(compiled.sql, arguments)
    except BaseException as exc:
        # What that path does with a failure: wrapped, the ``handle_error`` listeners
        # called, the cursor closed, a lost connection invalidated; it raises.
        conn._handle_dbapi_exception(exc, compiled.sql, arguments, cursor, None)
    return cursor


def _watched(conn: Connection) -> bool:
    """Whether a statement run on ``conn`` has listeners to call, or is echoed, so that it
    must take SQLAlchemy's cursor execution (tests counting statements listen so).

    A connection's own flag is set only by listeners of that connection (or of every
    connection): its events, joined with the engine's, are then asked; else the engine's
    alone, which costs a third as much."""
    events = conn.dispatch if conn._has_events else conn.engine.dispatch
    return bool(
        events.before_cursor_execute
        or events.after_cursor_execute
        or conn.dialect.dispatch.do_execute
        or conn._echo
    )


def _picker(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """What takes the values of ``names`` from a statement's parameters, as a tuple: one call
    in C (``itemgetter``), where a Python loop over a dozen of them cost about 0.4 µs more
    (a create runs seven statements, a provisioning-log entry binds twenty values)."""
    if len(names) > 1:
        return itemgetter(*names)
    return lambda parameters: tuple([parameters[name] for name in names])  # one value, or none


def _compile(statement: Executable, dialect: Dialect, column_keys: list[str] | None) -> _Compiled:
    compiled = statement.compile(dialect=dialect, column_keys=column_keys)  # type: ignore[attr-defined]
    assert isinstance(compiled, SQLCompiler)
    if (
        compiled.prefetch
        or compiled.effective_returning
        or compiled.escaped_bind_names
        or any(bind.expanding or bind.callable for bind in compiled.binds.values())
    ):
        raise ValueError(f"not a statement to prepare: {compiled.string}")
    binds = {name: bind for bind, name in compiled.bind_names.items()}
    positional = compiled.positional and compiled.positiontup is not None
    names = tuple(compiled.positiontup or ()) if positional else tuple(binds)
    processors = [binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]
    # Values the statement holds itself (SQLite renders a LIMIT with "OFFSET 0").
    fixed = {name: bind.effective_value for name, bind in binds.items() if not bind.required}
    columns = compiled._result_columns
    return _Compiled(
        sql=compiled.string,
        names=names,
        picked=_picker(names),
        processed=tuple(
            (at, process) for at, process in enumerate(processors) if process is not None
        ),
        positional=positional,
        fixed=fixed,
        keys=tuple(column.keyname for column in columns),
        results=tuple(
            (at, process)
            for at, column in enumerate(columns)
            if (process := column.type.dialect_impl(dialect).result_processor(dialect, None))
            is not None
        ),
    )
