"""Transactions: every use case runs in exactly one of these.

When the database cannot take the work now (every pooled connection is busy, a
lock wait timed out, PostgreSQL chose this transaction as a deadlock victim or
is restarting), the transaction has been rolled back and ``store.errors.Busy`` is
raised: the edges answer it ``503`` with ``Retry-After``, the client retries, and
nothing half-done remains.
"""

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, text

from scimgate.store.driver_errors import busy_is_retryable, raise_if_busy
from scimgate.store.engine import WRITE_OPTION, kept_read, writer
from scimgate.store.prepared import Prepared


@dataclass
class _Shared:
    """A transaction that writing blocks run in one after another (``committed_together``)."""

    engine: Engine
    connection: Connection
    busy: bool = False
    """Whether a writing block runs in it now (one within that block takes its own)."""


_SAVEPOINT = "scimgate_write"
_SAVE = Prepared(text(f"SAVEPOINT {_SAVEPOINT}"))
_ROLL_BACK = Prepared(text(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}"))
_RELEASE = Prepared(text(f"RELEASE SAVEPOINT {_SAVEPOINT}"))

_SHARED: ContextVar[_Shared | None] = ContextVar("scimgate_shared_transaction", default=None)


@contextmanager
def committed_together(engine: Engine) -> Iterator[None]:
    """One transaction for the writing blocks run within, one after another: each gets a
    savepoint of its own, so that one which fails leaves only its own changes out, and all
    the others commit together when the block ends, or none do if that commit fails.

    This is group commit: the commit, and the pages every write touches alike, are paid
    once for the group. A caller must answer none of the writes before this block ends.
    """
    with busy_is_retryable(), writer(engine) as connection:
        connection.execution_options(**{WRITE_OPTION: True})
        with connection.begin():
            token = _SHARED.set(_Shared(engine, connection))
            try:
                yield
            finally:
                _SHARED.reset(token)


def writing(engine: Engine) -> AbstractContextManager[Connection]:
    """A transaction that writes: committed on success, rolled back on any exception.

    Within ``committed_together``, a savepoint of its transaction instead: released on
    success (the group's commit makes it durable), rolled back to on any exception.
    """
    shared = _SHARED.get()
    if shared is not None and shared.engine is engine and not shared.busy:
        return _GroupWrite(shared)
    return _transaction(engine)


@contextmanager
def _transaction(engine: Engine) -> Iterator[Connection]:
    with busy_is_retryable(), writer(engine) as connection:
        connection.execution_options(**{WRITE_OPTION: True})
        with connection.begin():
            yield connection


class _GroupWrite:
    """A write within ``committed_together``: a savepoint of the group's transaction,
    released when the block ends, rolled back to on any exception; work the database
    could not take is raised as ``Busy``, as a transaction's is.

    Its statements are prepared ones (``store.prepared``): SQLAlchemy's own savepoints
    compile each statement anew, and even ``exec_driver_sql`` builds an execution context
    and a result, which together cost about ten times the statement itself. A class, as
    every short write of a group enters one (a generator's context manager costs about two
    microseconds more).
    """

    __slots__ = ("_shared",)

    def __init__(self, shared: _Shared) -> None:
        self._shared = shared

    def __enter__(self) -> Connection:
        shared = self._shared
        try:
            _SAVE.execute(shared.connection, {})
        except Exception as exc:
            raise_if_busy(exc)
            raise
        shared.busy = True
        return shared.connection

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _: Any) -> None:
        shared = self._shared
        shared.busy = False
        try:
            if kind is not None:
                _ROLL_BACK.execute(shared.connection, {})
            _RELEASE.execute(shared.connection, {})
        except Exception as failure:
            raise_if_busy(failure)
            raise
        if isinstance(exc, Exception):
            raise_if_busy(exc)  # else the exception goes on as it was


def reading(engine: Engine) -> AbstractContextManager[Connection]:
    """A read-only transaction. On SQLite, one snapshot, so that a page and its total agree,
    begun and ended on the driver (``store.engine.KeptRead``).

    On PostgreSQL, at READ COMMITTED, each statement of a transaction sees what committed
    before it, as a statement run on its own does: a read's statements run in autocommit,
    one round trip each, without a BEGIN's and a COMMIT's (a key lookup is one statement).
    The pool gives the connection back to writers as it was.
    """
    return kept_read(engine) or _autocommitting(engine)


def one_statement_writing(engine: Engine) -> AbstractContextManager[Connection]:
    """PostgreSQL: a write made of one statement (reads before it aside), which commits
    on its own, one round trip without a BEGIN's and a COMMIT's
    (``store.published_inserts``). A block that writes more than once must take
    :func:`writing`: here each statement would commit apart."""
    return _autocommitting(engine)


@contextmanager
def _autocommitting(engine: Engine) -> Iterator[Connection]:
    with busy_is_retryable(), engine.connect() as connection:
        # SQLAlchemy's transaction is kept, for what runs on the driver within it
        # (``store.prepared``); on the driver, autocommit sends neither statement.
        connection.execution_options(isolation_level="AUTOCOMMIT")
        with connection.begin():
            yield connection


@contextmanager
def autocommit(engine: Engine) -> Iterator[Connection]:
    """A connection whose every statement commits on its own (one round trip, no transaction)."""
    with busy_is_retryable(), engine.connect() as connection:
        yield connection.execution_options(isolation_level="AUTOCOMMIT")
