"""Opening the database: one engine per process, tuned per backend.

SQLite runs in WAL mode with a busy timeout, and every writing transaction starts
with ``BEGIN IMMEDIATE`` so that two writers queue for the lock instead of failing
when a read transaction tries to upgrade. Within one process, writers also queue
on a Python lock before they ask SQLite (``writer``): SQLite's own busy handler
sleeps and polls (1, 2, 5 … 100 ms), so a burst of concurrent writers would spend
most of its time asleep while the database sits idle. Since they take turns anyway,
they also share one connection that stays checked out of the pool, and readers
reuse idle connections kept the same way (``reader``): checking a connection out
and back in, with its reset, cost more CPU than the transaction's own BEGIN and
COMMIT.

Both backends get ``scim_fold``, the function that maps a string to the form
case-insensitive SCIM comparisons use (Unicode NFC, then lower case): on SQLite
it is a Python function registered on every connection, on PostgreSQL an SQL
function the migrations create.

Statement parameters are hidden from SQLAlchemy's exception messages: they hold
request data and documents, which no log may hold.

``encryption_keys`` (``SCIMGATE_ENCRYPTION_KEYS``) gives the engine a keyring
(``scimgate.store.encryption``): a malformed key stops the process here, at start.
"""

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from threading import Lock, RLock
from typing import Any

import structlog
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from scimgate.config import PoolSettings
from scimgate.scim import jsontext
from scimgate.scim.compare import fold
from scimgate.store.driver_errors import raise_if_busy, translate_conflicts
from scimgate.store.encryption import Keyring, attach
from scimgate.store.pool_pings import ping_when_idle

log = structlog.get_logger("scimgate.store")

WRITE_OPTION = "scimgate_writes"
"""Execution option marking a connection whose transaction will write."""

_KEPT = "scimgate_kept_connections"
"""The attribute of a SQLite engine holding its kept connections (a cycle the collector
frees with the engine, where a mapping from engines would keep every engine alive)."""


class _KeptConnections:
    """SQLite: the lock this process's writers take turns on, and the connection they share;
    and the idle connections readers reuse."""

    def __init__(self) -> None:
        self.lock = RLock()
        self.connection: Connection | None = None
        self.in_use = False
        self.idle_readers: list[Connection] = []
        self.readers_lock = Lock()
        self.autocheckpoint = True
        """Whether a commit checkpoints the WAL once it crosses SQLite's threshold (else a
        thread of the server does, ``store.checkpoints``)."""
        self.waiting: list[Callable[[], None]] = []
        """Called once each, by the next thread that leaves the turn (``when_turn_left``)."""
        self.waiting_lock = Lock()

    def turn(self, wait: bool = True) -> "_Turn":
        """The write turn, held for the block (True); without ``wait``, False at once when
        another thread has it."""
        return _Turn(self, wait)

    def leave(self) -> None:
        """Give the turn back, then call whoever asked to be called once it was left."""
        self.lock.release()
        if self.waiting:
            with self.waiting_lock:
                called, self.waiting = self.waiting, []
            for each in called:
                try:
                    each()
                except Exception:  # a waiter's failure is its own: this write is done
                    log.exception("a waiter for the write turn failed")


class _Turn:
    """The write turn for a ``with`` block (``_KeptConnections.turn``): a class, since every
    short request takes one, and a generator's context manager costs about a microsecond
    more to enter and leave."""

    __slots__ = ("_kept_by", "_taken", "_wait")

    def __init__(self, kept_by: _KeptConnections, wait: bool) -> None:
        self._kept_by = kept_by
        self._wait = wait
        self._taken = False

    def __enter__(self) -> bool:
        self._taken = self._kept_by.lock.acquire(blocking=self._wait)
        return self._taken

    def __exit__(self, *_: object) -> None:
        if self._taken:
            self._kept_by.leave()


def open_engine(
    url: str, pool: PoolSettings | None = None, encryption_keys: Sequence[str] = ()
) -> Engine:
    """Create the engine for a database URL (``sqlite:///…`` or ``postgresql+psycopg://…``)."""
    keyring = Keyring.parse(encryption_keys)
    engine = _open(url, pool)
    translate_conflicts(engine)
    attach(engine, keyring)
    return engine


def is_sqlite(url: str) -> bool:
    """Whether a database URL names an SQLite file (else PostgreSQL)."""
    return make_url(url).get_backend_name() == "sqlite"


def database_exists(url: str) -> bool:
    """Whether there is a database to read at ``url`` without creating one: an SQLite file
    that exists; a PostgreSQL database is taken to exist (connecting never creates it)."""
    if not is_sqlite(url):
        return True
    path = make_url(url).database
    return path is not None and path not in ("", ":memory:") and Path(path).is_file()


def _open(url: str, pool: PoolSettings | None) -> Engine:
    if is_sqlite(url):
        return _sqlite_engine(url)
    pool = pool or PoolSettings()
    engine = create_engine(
        url,
        pool_size=pool.size,
        max_overflow=pool.overflow,
        pool_timeout=pool.timeout,
        # The connection checked in last goes out first: those a quiet spell leaves unused
        # stay idle, and the ones in use stay warm (``store.pool_pings`` pings only the idle).
        pool_use_lifo=True,
        hide_parameters=True,
        json_serializer=jsontext.dumps,
        json_deserializer=jsontext.loads,
    )
    ping_when_idle(engine)
    return engine


@contextmanager
def writer(engine: Engine) -> Iterator[Connection]:
    """A connection to write through, once it is this process's turn (SQLite).

    PostgreSQL writers need no turn and take a pooled connection each. A writer
    nested in another on the same thread (the lock is reentrant) gets a pooled
    connection of its own, as before the connection was shared.
    """
    kept_by: _KeptConnections | None = getattr(engine, _KEPT, None)
    if kept_by is None:
        with engine.connect() as connection:
            yield connection
        return
    with kept_by.turn():
        if kept_by.in_use:
            with engine.connect() as connection:
                yield connection
            return
        shared = kept_by.connection
        if shared is None or shared.closed or shared.invalidated:
            shared = engine.connect()
            _journal_savepoints_in_memory(shared)
            kept_by.connection = shared
        kept_by.in_use = True
        try:
            yield shared
        finally:
            kept_by.in_use = False
            _settle(shared)


def _journal_savepoints_in_memory(kept: Connection) -> None:
    """Have SQLite keep the writers' savepoint journal in memory (``temp_store``).

    Writes committed together each run in a savepoint (``store.transactions``), and
    SQLite copies every page a savepoint changes into a journal, to put back if it is
    rolled back to. Past 64 KiB it writes that journal to a temporary file, and a
    create's pages (its row, its event and their indexes) pass it: its inserts took
    twice the CPU they take with the journal in memory. There, the journal is emptied
    as each savepoint ends, so it holds one write's pages: a short SCIM write's, or one
    user's or group's of a Google Workspace sync. A transaction without savepoints,
    a purge's large delete among them, keeps no such journal. Sorts and temporary
    tables of this connection are kept in memory too; writers make none of size.
    """
    # Straight to the driver, outside any transaction (SQLite refuses it within one).
    kept.connection.driver_connection.execute("PRAGMA temp_store=MEMORY")  # type: ignore[union-attr]


def _settle(kept: Connection) -> None:
    """Leave no transaction open on a kept connection: not one the caller's block left
    unsettled, nor one SQLite kept open when its commit failed (a deferred constraint),
    which SQLAlchemy no longer counts as begun."""
    if kept.in_transaction():
        kept.rollback()
    elif not (kept.closed or kept.invalidated):
        driver: Any = kept.connection.driver_connection
        if driver.in_transaction:
            driver.rollback()


def close_connections(engine: Engine) -> None:
    """Close every connection this process keeps on the engine once it has stopped using it:
    SQLite's shared writer (when no write holds it) and idle readers, then the pool's.

    On SQLite the last connection closed checkpoints the WAL into the database file and
    removes the log and its index (``-wal``, ``-shm``): a stopped server leaves one file,
    whole, for a copy to take. The engine stays usable, opening connections anew.
    """
    kept_by: _KeptConnections | None = getattr(engine, _KEPT, None)
    if kept_by is not None:
        with kept_by.turn():
            shared, kept_by.connection = kept_by.connection, None
        if shared is not None:
            shared.close()
        with kept_by.readers_lock:
            readers, kept_by.idle_readers = kept_by.idle_readers, []
        for reader_connection in readers:
            reader_connection.close()
    engine.dispose()


def takes_turns(engine: Engine) -> bool:
    """Whether this process's writers take turns on the engine (SQLite)."""
    return getattr(engine, _KEPT, None) is not None


def turn_if_free(engine: Engine) -> AbstractContextManager[bool]:
    """SQLite: this process's write turn, taken without waiting when no writer of the process
    has it (True while it is held: a writer within then waits for no one of the process).
    False when another thread has it, and always on PostgreSQL, where writers take no turn."""
    kept_by: _KeptConnections | None = getattr(engine, _KEPT, None)
    return _NO_TURN if kept_by is None else _Turn(kept_by, wait=False)


_NO_TURN = nullcontext(False)


def set_autocheckpoint(engine: Engine, on: bool) -> None:
    """SQLite: whether commits checkpoint the WAL themselves (SQLite's default), on every
    connection the engine opens from now on and on the writers' kept one."""
    kept_by: _KeptConnections | None = getattr(engine, _KEPT, None)
    if kept_by is None:
        return
    kept_by.autocheckpoint = on
    with kept_by.turn():
        kept = kept_by.connection
        if kept is not None and not kept.closed and not kept.invalidated:
            pages = 1000 if on else 0  # SQLite's default threshold, in pages
            # Straight to the driver: through SQLAlchemy the statement would begin a
            # transaction (a writing one, on this connection) and leave it open.
            kept.connection.driver_connection.execute(  # type: ignore[union-attr]
                f"PRAGMA wal_autocheckpoint={pages}"
            )


def when_turn_left(engine: Engine, callback: Callable[[], None]) -> bool:
    """SQLite: have ``callback`` called once, in the thread that next leaves this process's
    write turn (even when the turn is free now: ask, then try ``turn_if_free``, so that a
    release between the two is not missed). False on PostgreSQL, where nothing is called."""
    kept_by: _KeptConnections | None = getattr(engine, _KEPT, None)
    if kept_by is None:
        return False
    with kept_by.waiting_lock:
        kept_by.waiting.append(callback)
    return True


@contextmanager
def reader(engine: Engine) -> Iterator[Connection]:
    """A connection to read through: an idle kept one (SQLite), else one from the pool."""
    kept_by: _KeptConnections | None = getattr(engine, _KEPT, None)
    if kept_by is None:
        with engine.connect() as connection:
            yield connection
        return
    kept = _take_reader(engine, kept_by)
    try:
        yield kept
    finally:
        _give_back(kept_by, kept)


def _take_reader(engine: Engine, kept_by: _KeptConnections) -> Connection:
    """An idle kept reading connection of this process, or a new one."""
    with kept_by.readers_lock:
        kept = kept_by.idle_readers.pop() if kept_by.idle_readers else None
    if kept is None or kept.closed or kept.invalidated:
        kept = engine.connect()
    return kept


def _give_back(kept_by: _KeptConnections, kept: Connection) -> None:
    """A reading connection back among the idle ones, with no transaction left open."""
    _settle(kept)
    if not (kept.closed or kept.invalidated):
        with kept_by.readers_lock:
            kept_by.idle_readers.append(kept)


def _unchanged(value: Any) -> Any:
    return value


# sqlite3 binds an int, a float or a str as it is, and first "adapts" any other value: for a
# None (a NULL) or bytes without an adapter of their own it asks its protocol type for
# ``__adapt__`` and builds the AttributeError that refuses it, some 3,000 instructions a
# value, where an adapter registered for the type is found in a mapping. A provisioning-log
# entry binds five NULLs or more. The adapters give the value back as it was, so what is
# bound does not change; they are the sqlite3 module's, for the whole process.
sqlite3.register_adapter(type(None), _unchanged)
sqlite3.register_adapter(bytes, _unchanged)


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        hide_parameters=True,
        json_serializer=jsontext.dumps,
        json_deserializer=jsontext.loads,
    )

    kept_by = _KeptConnections()

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Transactions are begun by hand below, so that writers take the lock up front.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if not kept_by.autocheckpoint:
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()
        dbapi_connection.create_function("scim_fold", 1, _fold_or_null, deterministic=True)

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        driver = connection.connection.driver_connection
        if driver.in_transaction:  # begun on the driver (``KeptRead``): join it
            return
        writes = connection.get_execution_options().get(WRITE_OPTION, False)
        _on_driver(driver, "BEGIN IMMEDIATE" if writes else "BEGIN")

    setattr(engine, _KEPT, kept_by)
    return engine


def kept_read(engine: Engine) -> "KeptRead | None":
    """SQLite: a read transaction on a kept reading connection (``KeptRead``); None on
    PostgreSQL."""
    kept_by: _KeptConnections | None = getattr(engine, _KEPT, None)
    return None if kept_by is None else KeptRead(engine, kept_by)


class KeptRead:
    """SQLite: a read transaction on an idle kept connection, begun and ended on the driver,
    its errors raised as ``busy_is_retryable`` raises them (``Busy`` for a database that
    cannot take the work now).

    SQLAlchemy's ``begin()`` and ``commit()`` cost some 7 µs of CPU between them, the
    driver's ``BEGIN`` and ``COMMIT`` about 1, and a lookup reads in one. The prepared
    statements (``store.prepared``) run in it on the driver. A statement run through
    SQLAlchemy begins SQLAlchemy's transaction, which joins this one (``_begin`` above);
    it is settled when the connection is given back. A key lookup reads in one, as does
    every read of a SCIM request: made of three generator context managers (the error
    mapping, the connection, the transaction), one with a one-row SELECT cost 8.7 µs of
    CPU timed alone, as this class 5.3, the driver's three statements 1.9.
    """

    __slots__ = ("_connection", "_driver", "_engine", "_kept_by")
    _connection: Connection
    _driver: sqlite3.Connection

    def __init__(self, engine: Engine, kept_by: _KeptConnections) -> None:
        self._engine = engine
        self._kept_by = kept_by

    def __enter__(self) -> Connection:
        kept_by = self._kept_by
        try:
            kept = self._connection = _take_reader(self._engine, kept_by)
            try:
                driver: Any = kept.connection.driver_connection
                self._driver = driver
                _on_driver(driver, "BEGIN")
            except BaseException:
                _give_back(kept_by, kept)
                raise
        except Exception as exc:
            raise_if_busy(exc)
            raise
        return kept

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _trace: Any
    ) -> None:
        kept = self._connection
        try:
            try:
                _end(kept, self._driver, "COMMIT" if error is None else "ROLLBACK")
            finally:
                _give_back(self._kept_by, kept)
        except Exception as exc:
            raise_if_busy(exc)
            raise
        if isinstance(error, Exception):
            raise_if_busy(error)


def _end(connection: Connection, driver: Any, statement: str) -> None:
    if not connection.invalidated and driver.in_transaction:
        _on_driver(driver, statement)


def _on_driver(driver: sqlite3.Connection, statement: str) -> None:
    """A transaction's statement, straight to the driver (through SQLAlchemy it costs more
    than the statement), its error raised as SQLAlchemy raises the driver's errors."""
    try:
        driver.execute(statement)
    except sqlite3.Error as exc:
        raise DBAPIError.instance(statement, None, exc, sqlite3.Error) from exc


def _fold_or_null(value: Any) -> Any:
    return fold(value) if isinstance(value, str) else value
