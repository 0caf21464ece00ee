"""A directory becomes active with the first request its IdP authenticates."""

from sqlalchemy import Engine

from scimgate.events.models import EventType
from scimgate.service.event_stream.changes import changing
from scimgate.store import tenants
from scimgate.store.ids import utcnow
from scimgate.store.tenants import Directory


def note_activation(engine: Engine, directory: Directory) -> None:
    """Record ``directory.activated`` once, for the first authenticated request."""
    if directory.activated_at is not None:
        return
    with changing(engine, directory.id) as work:
        if tenants.activate(work.conn, directory.id, utcnow()):
            work.directory_changed(EventType.directory_activated)
