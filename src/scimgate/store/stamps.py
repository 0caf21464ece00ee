"""Reading directories' credential stamps: on a connection kept for it, or in a transaction.

A stamp is read by every SCIM request whose token the process knows, so it is read
by the driver on one connection held for the purpose, outside a transaction: a few
µs on SQLite (2 to 8 µs timed alone on different machines, more just after another
connection's commit), one round trip on PostgreSQL, where a transaction through the
pool costs some 70 µs of CPU. The stamps themselves are moved by triggers (migration 0018).
A write on SQLite reads its directory's stamp again in its transaction (``stamp_in``),
in place of the directory's row (``service.provisioning.directory_config``).
"""

from threading import Lock
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select

from scimgate.store.prepared import Prepared
from scimgate.store.tables.tenancy import credential_stamps

_STAMP = Prepared(
    select(credential_stamps.c.version).where(
        credential_stamps.c.directory_id == bindparam("directory_id")
    )
)


def stamp_in(conn: Connection, directory_id: str) -> int | None:
    """The directory's stamp as this transaction sees it; None when it has none."""
    row = _STAMP.first(conn, {"directory_id": directory_id})
    return None if row is None else int(row[0])


class StampReader:
    """Reads credential stamps for one engine, holding one of its connections."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        marker = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._sql = f"SELECT version FROM credential_stamps WHERE directory_id = {marker}"
        self._lock = Lock()
        self._connection: Any = None

    def read(self, directory_id: str) -> int | None:
        """The directory's stamp; None when it has none or it could not be read (the caller
        then reads what it needs in a transaction of its own, which reports the failure)."""
        with self._lock:
            try:
                if self._connection is None:
                    self._connection = self._open()
                cursor = self._connection.cursor()
                try:
                    cursor.execute(self._sql, (directory_id,))
                    row = cursor.fetchone()
                finally:
                    cursor.close()
            except self._engine.dialect.loaded_dbapi.Error:
                self._discard()
                return None
        return int(row[0]) if row else None

    def close(self) -> None:
        """Give the kept connection back; a later read takes another."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _open(self) -> Any:
        connection = self._engine.raw_connection()
        if self._engine.dialect.name == "postgresql":
            # Each read is its own statement: it sees every commit made before it.
            connection.driver_connection.autocommit = True  # type: ignore[union-attr]
        return connection

    def _discard(self) -> None:
        if self._connection is not None:
            self._connection.invalidate()
            self._connection = None
