"""Reading directories' credential stamps on connections kept for it.

A stamp is read by every SCIM request whose token the process knows, so it is read
by the driver on a connection held for the purpose, outside a transaction: about
2 µs on SQLite, one round trip on PostgreSQL, where a transaction through the pool
costs some 70 µs of CPU. The stamps themselves are moved by triggers (migration 0018).

No lock is held while a stamp is read: a reader takes an idle kept connection, or
keeps one more (up to ``KEPT_CONNECTIONS``), and gives it back after; when all are in
use, it reads on a connection of the pool, as a transaction would. On PostgreSQL
the SCIM requests of a process wait for the database on its event loop, each in a
greenlet (``store.engine.open_loop_engine``): a lock held over the round trip would
stop the whole loop the moment a second request wanted it.
"""

from threading import Lock
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import DBAPIError

from scimgate.store.errors import Busy
from scimgate.store.transactions import autocommit

KEPT_CONNECTIONS = 4
"""The most connections a reader keeps for itself."""


class StampReader:
    """Reads credential stamps for one engine, on connections of its pool kept for it."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        marker = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._sql = f"SELECT version FROM credential_stamps WHERE directory_id = {marker}"
        self._lock = Lock()
        """Held only to take or give back a connection."""
        self._idle: list[Any] = []
        self._kept = 0
        # Kept out of the pool, they are closed when the pool is.
        event.listen(engine, "engine_disposed", self._close_idle)

    def read(self, directory_id: str) -> int | None:
        """The directory's stamp; None when it has none or it could not be read (the caller
        then reads what it needs in a transaction of its own, which reports the failure)."""
        connection = self._take()
        if connection is None:
            return self._read_pooled(directory_id)
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(self._sql, (directory_id,))
                row = cursor.fetchone()
            finally:
                cursor.close()
        except self._engine.dialect.loaded_dbapi.Error:
            self._discard(connection)
            return None
        with self._lock:
            self._idle.append(connection)
        return int(row[0]) if row else None

    def _read_pooled(self, directory_id: str) -> int | None:
        """The stamp read on a connection of the pool, while every kept one is in use."""
        try:
            with autocommit(self._engine) as conn:
                row = conn.exec_driver_sql(self._sql, (directory_id,)).first()
        except (Busy, DBAPIError):
            return None
        return int(row[0]) if row else None

    def _take(self) -> Any:
        """An idle kept connection, a new one while fewer than the most are kept, or None."""
        with self._lock:
            if self._idle:
                return self._idle.pop()
            if self._kept >= KEPT_CONNECTIONS:
                return None
            self._kept += 1
        try:
            return self._open()
        except self._engine.dialect.loaded_dbapi.Error:
            with self._lock:
                self._kept -= 1
            return None

    def _open(self) -> Any:
        # Detached, it is no longer one of the pool's: the pool does not count it, and
        # the collector does not return it (what it cannot do for PostgreSQL's
        # asynchronous connections, which it warns about).
        connection = self._engine.raw_connection()
        connection.detach()
        if self._engine.dialect.name == "postgresql":
            # Each read is its own statement: it sees every commit made before it.
            connection.dbapi_connection.autocommit = True  # type: ignore[union-attr]
        return connection

    def _close_idle(self, _engine: Engine) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
            self._kept -= len(idle)
        for connection in idle:
            connection.close()

    def _discard(self, connection: Any) -> None:
        connection.invalidate()
        with self._lock:
            self._kept -= 1
