"""Read transactions (``store.transactions.reading``): one snapshot, the prepared statements
on the driver, and no transaction left open on the connection, whatever the block did.

On SQLite a read's transaction is begun and ended on the driver
(``store.engine.KeptRead``); a statement run through SQLAlchemy within it joins it.
On PostgreSQL, at READ COMMITTED, a read's statements run in autocommit, each on its own.
"""

import secrets
import sqlite3
from contextlib import nullcontext
from typing import Any

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import Connection, Engine, event, select
from sqlalchemy.exc import OperationalError

from scim_payloads import USER_SCHEMA
from scimgate.config import PoolSettings
from scimgate.service.administration import tenants
from scimgate.store.engine import open_engine, reader
from scimgate.store.errors import Busy
from scimgate.store.ids import new_id, utcnow
from scimgate.store.resource_tables import USERS
from scimgate.store.stored_resources import StoredResource
from scimgate.store.tables.resources import users
from scimgate.store.transactions import reading, writing


@pytest.fixture
def directory_id(engine: Engine) -> str:
    organization = tenants.create_organization(engine, f"o-{secrets.token_hex(4)}")
    return tenants.create_directory(engine, organization.id, "d").directory.id


def _create(engine: Engine, directory_id: str) -> str:
    user_id, name = new_id(), f"{secrets.token_hex(4)}@example.com"
    doc = {"schemas": [USER_SCHEMA], "userName": name, "active": True}
    with writing(engine) as conn:
        USERS.insert(conn, directory_id, StoredResource.new(user_id, doc, utcnow()))
    return user_id


def _through_sqlalchemy(conn: Connection, directory_id: str) -> set[str]:
    rows = conn.execute(select(users.c.id).where(users.c.directory_id == directory_id))
    return {row.id for row in rows}


def test_a_read_sees_one_snapshot_through_both_paths(
    engine: Engine, other_engine: Engine, directory_id: str
) -> None:
    if engine.dialect.name == "postgresql":
        pytest.skip("PostgreSQL reads at READ COMMITTED: each statement sees what committed")
    first = _create(engine, directory_id)
    with reading(engine) as conn:
        assert USERS.get(conn, directory_id, first) is not None  # the snapshot starts here
        second = _create(other_engine, directory_id)
        assert USERS.get(conn, directory_id, second) is None
        assert _through_sqlalchemy(conn, directory_id) == {first}
        assert USERS.get(conn, directory_id, second) is None
    with reading(engine) as conn:
        assert USERS.get(conn, directory_id, second) is not None
        assert _through_sqlalchemy(conn, directory_id) == {first, second}


def test_prepared_statements_of_a_read_run_on_the_driver(engine: Engine, directory_id: str) -> None:
    """``Connection.execute`` (SQLAlchemy's path, ``before_execute``) runs nothing."""
    user_id = _create(engine, directory_id)
    executed: list[Any] = []

    def before(_conn: Any, statement: Any, *_: Any) -> None:
        executed.append(statement)

    event.listen(engine, "before_execute", before)
    try:
        with reading(engine) as conn:
            assert USERS.get(conn, directory_id, user_id) is not None
    finally:
        event.remove(engine, "before_execute", before)
    assert executed == []


@pytest.mark.parametrize("sqlalchemy_statement", [False, True])
@pytest.mark.parametrize("fails", [False, True])
def test_a_read_leaves_no_transaction_open(
    engine: Engine, other_engine: Engine, directory_id: str, sqlalchemy_statement: bool, fails: bool
) -> None:
    user_id = _create(engine, directory_id)

    class Failed(Exception):
        pass

    with pytest.raises(Failed) if fails else nullcontext(), reading(engine) as conn:
        assert USERS.get(conn, directory_id, user_id) is not None
        if sqlalchemy_statement:
            assert user_id in _through_sqlalchemy(conn, directory_id)
        if fails:
            raise Failed
    with reader(engine) as kept:  # SQLite: the same connection, back among the idle ones
        assert not kept.in_transaction()
        assert not getattr(kept.connection.driver_connection, "in_transaction", False)
    # Nothing holds a snapshot: another engine's write is seen by the next read.
    later = _create(other_engine, directory_id)
    with reading(engine) as conn:
        assert USERS.get(conn, directory_id, later) is not None


@pytest.mark.parametrize(
    ("message", "raised"),
    [("database is locked", Busy), ("no such table: elsewhere", OperationalError)],
)
def test_a_read_the_database_cannot_take_now_is_busy(
    engine: Engine, directory_id: str, message: str, raised: type[Exception]
) -> None:
    """Work the database cannot take now is ``Busy`` (answered 503, retried by the client);
    any other error is raised as it is. Either way the connection is given back settled."""
    user_id = _create(engine, directory_id)
    refused = OperationalError("SELECT", None, sqlite3.OperationalError(message))
    with pytest.raises(raised) as caught, reading(engine) as conn:
        assert USERS.get(conn, directory_id, user_id) is not None
        raise refused
    assert caught.value is refused or caught.value.__cause__ is refused
    with reader(engine) as kept:
        assert not kept.in_transaction()
        assert not getattr(kept.connection.driver_connection, "in_transaction", False)
    with reading(engine) as conn:
        assert USERS.get(conn, directory_id, user_id) is not None


def _open_transaction(conn: Connection) -> bool:
    """Whether PostgreSQL holds a transaction open on the connection (psycopg's view of it)."""
    driver: Any = conn.connection.driver_connection
    return bool(driver.info.transaction_status != TransactionStatus.IDLE)


def test_a_postgresql_read_sends_no_begin_nor_commit(engine: Engine, directory_id: str) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite reads in one snapshot, begun and ended on the driver")
    user_id = _create(engine, directory_id)
    with reading(engine) as conn:
        assert USERS.get(conn, directory_id, user_id) is not None
        assert not _open_transaction(conn)
        assert user_id in _through_sqlalchemy(conn, directory_id)
        assert not _open_transaction(conn)


def test_a_postgresql_write_after_a_read_on_the_same_connection_is_one_transaction(
    database_url: str,
) -> None:
    """The pool's one connection reads in autocommit, then writes: a failed write leaves
    nothing, and a write that ends leaves its transaction closed."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's writers have a connection of their own")
    engine = open_engine(database_url, PoolSettings(size=1, overflow=0))
    try:
        organization = tenants.create_organization(engine, f"o-{secrets.token_hex(4)}")
        directory_id = tenants.create_directory(engine, organization.id, "d").directory.id
        with reading(engine) as conn:
            assert _through_sqlalchemy(conn, directory_id) == set()

        class Failed(Exception):
            pass

        with pytest.raises(Failed), writing(engine) as conn:
            doc = {"schemas": [USER_SCHEMA], "userName": "rolled-back@example.com"}
            USERS.insert(conn, directory_id, StoredResource.new(new_id(), doc, utcnow()))
            assert _open_transaction(conn)
            raise Failed
        with reading(engine) as conn:
            assert _through_sqlalchemy(conn, directory_id) == set()
        kept = _create(engine, directory_id)
        with reading(engine) as conn:
            assert _through_sqlalchemy(conn, directory_id) == {kept}
    finally:
        engine.dispose()
