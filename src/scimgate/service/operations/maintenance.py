"""Periodic upkeep the worker runs: retention, tombstones, overdue alerts, old logs, sessions,
refilled rate-limit buckets."""

from datetime import timedelta

from sqlalchemy import Engine

from scimgate.config import EventSettings, LogPolicy
from scimgate.events.encoding import encoded
from scimgate.events.models import EventType, OffboardingData
from scimgate.records import frozen
from scimgate.service.directories import locked_directory
from scimgate.service.event_stream import event_feed
from scimgate.service.event_stream.event_feed import PURGED_THROUGH
from scimgate.service.operations import provisioning_log
from scimgate.service.portal import portal_sessions
from scimgate.store import events, offboarding, progress, rate_limits
from scimgate.store.events import NewEvent
from scimgate.store.ids import new_id, utcnow
from scimgate.store.transactions import writing

OVERDUE_BATCH = 500


@frozen
class Upkeep:
    events_purged_through: int
    tombstones_purged: int
    overdue_alerts: int
    log_entries_purged: int
    portal_sessions_purged: int
    rate_buckets_purged: int


def run_upkeep(engine: Engine, settings: EventSettings, log: LogPolicy) -> Upkeep:
    now = utcnow()
    event_feed.number_committed(engine)
    with writing(engine) as conn:
        newest = events.purge_before(conn, now - timedelta(days=settings.retention_days))
        if newest:
            progress.advance(conn, PURGED_THROUGH, newest)
        tombstones = offboarding.purge_tombstones(
            conn, now - timedelta(days=settings.tombstone_days)
        )
    alerts = raise_overdue_alerts(engine, timedelta(minutes=settings.offboarding_alert_minutes))
    return Upkeep(
        newest,
        tombstones,
        alerts,
        provisioning_log.purge_expired(engine, now, log),
        portal_sessions.purge_expired(engine, now),
        _purge_refilled_buckets(engine),
    )


def _purge_refilled_buckets(engine: Engine) -> int:
    """Buckets shared through PostgreSQL that have refilled (SQLite keeps them in memory)."""
    if engine.dialect.name != "postgresql":
        return 0
    with writing(engine) as conn:
        return rate_limits.purge_full(conn)


def raise_overdue_alerts(engine: Engine, threshold: timedelta) -> int:
    """Publish ``offboarding.overdue`` for each deprovisioning unconfirmed past the threshold."""
    now = utcnow()
    with writing(engine) as conn:
        late = offboarding.overdue(conn, now - threshold, OVERDUE_BATCH)
        alerts = [
            NewEvent(
                id=new_id(),
                organization_id=record.organization_id,
                directory_id=record.directory_id,
                type=EventType.offboarding_overdue.value,
                resource_id=record.user_id,
                occurred_at=now,
                data=encoded(OffboardingData(deprovisioning=record)),
            )
            for record in late
        ]
        offboarding.mark_alerted(conn, [record.id for record in late], now)
        # Publishing holds each directory's row lock, so that a directory's events stay
        # in commit order; taken last, and in one order so that two runs cannot deadlock.
        for directory_id in sorted({record.directory_id for record in late}):
            locked_directory(conn, directory_id)
        events.publish(conn, alerts, now)
    return len(alerts)
