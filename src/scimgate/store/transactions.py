"""Transactions: every use case runs in exactly one of these.

When the database cannot take the work now (every pooled connection is busy, a
lock wait timed out, PostgreSQL chose this transaction as a deadlock victim or
is restarting), the transaction has been rolled back and the request is answered
``503`` with ``Retry-After``: the client retries, and nothing half-done remains.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from scimgate.scim.errors import ServiceBusy
from scimgate.store.engine import WRITE_OPTION, reader, writer

RETRY_AFTER_SECONDS = 1

_RETRYABLE_SQLSTATE_CLASSES = ("08", "40", "53", "57")
"""PostgreSQL: connection exceptions, transaction rollbacks (serialization, deadlock),
insufficient resources, operator intervention (shutting down)."""

_RETRYABLE_SQLSTATES = ("55P03",)
"""PostgreSQL: lock not available."""

_RETRYABLE_SQLITE_MESSAGES = ("database is locked", "database table is locked")


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A transaction that writes: committed on success, rolled back on any exception."""
    with _busy_is_retryable(), writer(engine) as connection:
        connection.execution_options(**{WRITE_OPTION: True})
        with connection.begin():
            yield connection


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction, so that a page and its total see one snapshot."""
    with _busy_is_retryable(), reader(engine) as connection, connection.begin():
        yield connection


@contextmanager
def autocommit(engine: Engine) -> Iterator[Connection]:
    """A connection whose every statement commits on its own (one round trip, no transaction)."""
    with _busy_is_retryable(), engine.connect() as connection:
        yield connection.execution_options(isolation_level="AUTOCOMMIT")


@contextmanager
def _busy_is_retryable() -> Iterator[None]:
    try:
        yield
    except PoolTimeout as exc:
        raise ServiceBusy(
            retry_after=RETRY_AFTER_SECONDS,
            detail="Every database connection is busy; nothing was changed. Retry shortly",
        ) from exc
    except OperationalError as exc:
        if not _retryable(exc):
            raise
        raise ServiceBusy(
            retry_after=RETRY_AFTER_SECONDS,
            detail="The database cannot take the request now; nothing was changed. Retry shortly",
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
