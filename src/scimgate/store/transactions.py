"""Transactions: every use case runs in exactly one of these."""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine

from scimgate.store.engine import WRITE_OPTION, write_turn


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A transaction that writes: committed on success, rolled back on any exception."""
    with write_turn(engine), engine.connect() as connection:
        connection.execution_options(**{WRITE_OPTION: True})
        with connection.begin():
            yield connection


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction, so that a page and its total see one snapshot."""
    with engine.connect() as connection, connection.begin():
        yield connection
