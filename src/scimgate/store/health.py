"""What readiness checks and metrics read from the database: cheap counts on indexed columns."""

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, func, select, text

from scimgate.records import frozen
from scimgate.store.migrate import alembic_config
from scimgate.store.tables.event_stream import held_events
from scimgate.store.tables.webhooks import webhook_deliveries
from scimgate.store.webhook_deliveries import PENDING


def ping(conn: Connection) -> None:
    """Raise unless the database answers a trivial query."""
    conn.execute(text("SELECT 1")).scalar_one()


@frozen
class Revisions:
    """The migration the database is at, and the newest one this version of scimgate ships."""

    database: str | None
    head: str | None

    @property
    def current(self) -> bool:
        return self.database == self.head


def revisions(conn: Connection) -> Revisions:
    script = ScriptDirectory.from_config(alembic_config(conn.engine))
    return Revisions(
        database=MigrationContext.configure(conn).get_current_revision(),
        head=script.get_current_head(),
    )


@frozen
class Backlog:
    """Webhook deliveries still to make, and how many of those have failed at least once."""

    pending: int
    failing: int


def webhook_backlog(conn: Connection) -> Backlog:
    pending = webhook_deliveries.c.status == PENDING
    row = conn.execute(
        select(
            func.count(),
            func.count().filter(webhook_deliveries.c.attempts > 0),
        ).where(pending)
    ).one()
    return Backlog(pending=int(row[0]), failing=int(row[1]))


def held_count(conn: Connection) -> int:
    """Events held back by the safety valve or a dry run, across every directory."""
    return int(conn.execute(select(func.count()).select_from(held_events)).scalar_one())
