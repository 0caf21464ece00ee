"""A directory becomes active with the first request its IdP authenticates."""

from sqlalchemy import Engine

from scimgate.events.models import EventType
from scimgate.service.event_stream.changes import changing
from scimgate.store import tenants
from scimgate.store.ids import utcnow
from scimgate.store.tenants import Directory


def note_activation(engine: Engine, directory: Directory) -> bool:
    """Record ``directory.activated`` once, for the first authenticated request; whether the
    directory's row may have changed since ``directory`` was read (it was not active)."""
    if directory.activated_at is not None:
        return False
    with changing(engine, directory.id) as work:
        if tenants.activate(work.conn, directory.id, utcnow()):
            work.directory_changed(EventType.directory_activated)
    return True
