"""PostgreSQL: pinging a pooled connection before use only when it has sat idle.

A connection left in the pool may have been closed by the other end meanwhile
(PostgreSQL restarted, a proxy or firewall dropped an idle connection). SQLAlchemy's
``pool_pre_ping`` asks the server before every checkout: a round trip for every
transaction, a create's and its log batch's among them. A connection
checked in moments ago was working moments ago, so it is pinged only when it has been
idle for ``IDLE_SECONDS``: under load no request pays for a ping, and after a quiet
spell the first use of each connection does, as before.

A connection that fails its ping is replaced before the transaction starts (the
pool takes or opens another). A connection lost within the idle threshold fails
its transaction's first statement instead, which the store answers as ``Busy``
(503 with ``Retry-After``, nothing written), and SQLAlchemy then discards the
pool's older connections.
"""

import time
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError

IDLE_SECONDS = 1.0
"""How long a connection may sit in the pool and still be used without a ping."""

_RETURNED = "scimgate_returned_at"
"""Where a connection's record keeps when it was last checked in (or opened)."""


def ping_when_idle(engine: Engine) -> None:
    """Make the engine's pool ping a connection at checkout when it has sat idle."""
    pool = engine.pool
    dialect = engine.dialect

    @event.listens_for(pool, "connect")
    def _opened(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED] = time.monotonic()

    @event.listens_for(pool, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_RETURNED] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED)
        if returned is not None and time.monotonic() - returned < IDLE_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            # The pool discards this connection and takes or opens another.
            raise DisconnectionError("an idle pooled connection was lost") from exc
