"""Readiness: the database answers, its schema is current, and a webhook worker is alive.

The worker proves it is alive by writing a heartbeat (epoch seconds) into a
named position of ``worker_cursors`` on every turn; a heartbeat older than
``WORKER_STALE_SECONDS`` means no worker is delivering webhooks.
"""

import time

from sqlalchemy import Engine

from scimgate.records import frozen
from scimgate.store import health, progress
from scimgate.store.driver_errors import probing
from scimgate.store.errors import Unreachable
from scimgate.store.transactions import reading, writing

HEARTBEAT_POSITION = "worker.heartbeat"
WORKER_STALE_SECONDS = 30
OK = "ok"


def heartbeat(engine: Engine) -> None:
    """Record that a worker is alive now."""
    with writing(engine) as conn:
        progress.advance(conn, HEARTBEAT_POSITION, int(time.time()))


@frozen
class Readiness:
    """Each check's verdict: ``"ok"``, or what is wrong."""

    database: str
    migrations: str
    worker: str

    @property
    def ready(self) -> bool:
        return self.database == self.migrations == self.worker == OK


def readiness(engine: Engine) -> Readiness:
    try:
        with probing(), reading(engine) as conn:
            health.ping(conn)
            revisions = health.revisions(conn)
            beat = progress.position(conn, HEARTBEAT_POSITION)
    except Unreachable as exc:
        return Readiness(database=str(exc), migrations="unknown", worker="unknown")
    return Readiness(database=OK, migrations=_migrations(revisions), worker=_worker(beat))


def _migrations(revisions: health.Revisions) -> str:
    if revisions.current:
        return OK
    return f"database at {revisions.database or 'no revision'}, expected {revisions.head}"


def _worker(beat: int) -> str:
    if beat == 0:
        return "no heartbeat from a webhook worker"
    age = int(time.time()) - beat
    if age > WORKER_STALE_SECONDS:
        return f"last worker heartbeat {age} s ago"
    return OK
