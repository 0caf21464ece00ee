"""The one place where the database driver's errors become the store's (``store.errors``).

Two kinds are translated. A write that breaks a uniqueness the database holds, named
by its constraint, becomes :class:`Conflict` at the statement that made it (an
engine's ``handle_error`` event, so that every statement is covered, the prepared
ones included). Work the database cannot take now (every pooled connection busy, a
lock wait timed out, PostgreSQL chose the transaction as a deadlock victim or is
restarting) becomes :class:`Busy` once the transaction has been rolled back
(:func:`busy_is_retryable`, around every transaction). Any other error is left as
the driver raised it: a bug, answered as one.
"""

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from scimgate.store.errors import Busy, Conflict, Uniqueness, Unreachable

RETRY_AFTER_SECONDS = 1

_RETRYABLE_SQLSTATE_CLASSES = ("08", "40", "53", "57")
"""PostgreSQL: connection exceptions, transaction rollbacks (serialization, deadlock),
insufficient resources, operator intervention (shutting down)."""

_RETRYABLE_SQLSTATES = ("55P03",)
"""PostgreSQL: lock not available."""

_RETRYABLE_SQLITE_MESSAGES = ("database is locked", "database table is locked")

_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: ((\w+)\.\w+(?:, \2\.\w+)*)$")
"""SQLite names the table and columns of a broken uniqueness, never the constraint."""


def translate_conflicts(engine: Engine) -> None:
    """Make the engine raise :class:`Conflict` for a broken uniqueness it knows by name."""
    event.listen(engine, "handle_error", _conflict, retval=True)


def _conflict(context: ExceptionContext) -> Exception | None:
    error = context.sqlalchemy_exception
    if not isinstance(error, IntegrityError):
        return None
    name = _constraint_name(error)
    known = {each.value: each for each in Uniqueness}
    return Conflict(known[name]) if name in known else None


def _constraint_name(error: IntegrityError) -> str | None:
    """The broken constraint's name: as PostgreSQL reports it, or as the schema's naming
    convention (``uq_<table>_<columns>``) names it from the columns SQLite reports."""
    diagnostics = getattr(error.orig, "diag", None)
    if diagnostics is not None:
        name = getattr(diagnostics, "constraint_name", None)
        return name if isinstance(name, str) else None
    found = _SQLITE_UNIQUE.search(str(error.orig))
    if found is None:
        return None
    columns = [each.partition(".")[2] for each in found[1].split(", ")]
    return "_".join(["uq", found[2], *columns])


class _BusyIsRetryable:
    """The block of :func:`busy_is_retryable`: a class, since every transaction enters one and
    a generator's context manager costs about a microsecond more to enter and leave."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _: Any) -> None:
        if isinstance(exc, Exception):
            raise_if_busy(exc)  # else the exception goes on as it was


_BUSY_IS_RETRYABLE = _BusyIsRetryable()


def busy_is_retryable() -> AbstractContextManager[None]:
    """Raise :class:`Busy` for work the database could not take now (see above)."""
    return _BUSY_IS_RETRYABLE


def raise_if_busy(exc: Exception) -> None:
    """Raise :class:`Busy` from ``exc`` when it is work the database could not take now;
    else return, for the caller to raise ``exc`` as it is."""
    if isinstance(exc, PoolTimeout):
        raise Busy(
            "Every database connection is busy; nothing was changed. Retry shortly",
            RETRY_AFTER_SECONDS,
        ) from exc
    if isinstance(exc, OperationalError) and _retryable(exc):
        raise Busy(
            "The database cannot take the request now; nothing was changed. Retry shortly",
            RETRY_AFTER_SECONDS,
        ) from exc


def _retryable(exc: OperationalError) -> bool:
    if hasattr(exc.orig, "sqlstate"):
        # psycopg: an error without an SQLSTATE never reached the server (connection failed).
        sqlstate = getattr(exc.orig, "sqlstate", None)
        return (
            not isinstance(sqlstate, str)
            or sqlstate in _RETRYABLE_SQLSTATES
            or sqlstate[:2] in _RETRYABLE_SQLSTATE_CLASSES
        )
    message = str(exc.orig).lower()
    return any(each in message for each in _RETRYABLE_SQLITE_MESSAGES)


@contextmanager
def probing() -> Iterator[None]:
    """Raise :class:`Unreachable` when the database fails a probe in any way, naming why."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise Unreachable(type(exc).__name__) from exc
    except Busy as exc:
        raise Unreachable(type(exc.__cause__).__name__) from exc
