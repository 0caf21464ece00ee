"""Helpers for the event tests: reading the stream from the table and through the events API."""

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, func, select

from conftest import ADMIN_TOKEN, LiveServer, postgres_database, serving
from scimgate.service.event_stream import event_feed
from scimgate.store.engine import open_engine
from scimgate.store.migrate import upgrade
from scimgate.store.tables.event_stream import events
from scimgate.store.transactions import reading


@dataclass(frozen=True)
class Published:
    """One row of the ``events`` table, as the tests compare it."""

    seq: int
    id: str
    type: str
    resource_id: str | None
    directory_id: str
    data: dict[str, Any]


def last_seq(engine: Engine) -> int:
    """The newest position in the stream, every committed event numbered first."""
    event_feed.number_committed(engine)
    with reading(engine) as conn:
        position = func.coalesce(func.max(events.c.position), 0)
        return int(conn.execute(select(position)).scalar_one())


def published(engine: Engine, directory_id: str | None = None, after: int = 0) -> list[Published]:
    """Rows of the events table after a position in the stream, oldest first."""
    event_feed.number_committed(engine)
    query = select(
        events.c.position.label("seq"),
        events.c.id,
        events.c.type,
        events.c.resource_id,
        events.c.directory_id,
        events.c.data,
    ).where(events.c.position > after)
    if directory_id is not None:
        query = query.where(events.c.directory_id == directory_id)
    with reading(engine) as conn:
        rows = conn.execute(query.order_by(events.c.position))
        return [Published(**row._mapping) for row in rows]


def read_all(admin: httpx.Client, after: int = 0, **filters: Any) -> list[dict[str, Any]]:
    """Every event the events API returns after a cursor, following ``next_cursor`` to the end."""
    found: list[dict[str, Any]] = []
    while True:
        response = admin.get("/events", params={"after": after, "limit": 50, **filters})
        assert response.status_code == 200, response.text
        page = response.json()
        found.extend(page["data"])
        if not page["data"]:
            assert page["next_cursor"] == after
            return found
        after = page["next_cursor"]


def admin_client(server: LiveServer) -> httpx.Client:
    return httpx.Client(
        base_url=f"{server.url}/api/v1",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=60,
    )


@contextmanager
def private_server(backend_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """A server on a database of its own, on the same backend as ``backend_url``.

    For tests whose effects reach every directory of a database (retention
    purges the whole stream), so that they leave the shared database alone.
    """
    with (
        private_database(backend_url, tmp_path) as (url, engine),
        serving(url, tmp_path / "private-server.log") as served,
    ):
        yield LiveServer(served, engine)


@contextmanager
def private_database(backend_url: str, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    """An empty, migrated database of its own, on the backend of ``backend_url``."""
    database = (
        nullcontext(f"sqlite:///{tmp_path / 'private.db'}")
        if backend_url.startswith("sqlite")
        else postgres_database("scimgate_private")
    )
    with database as url:
        engine = open_engine(url)
        upgrade(engine)
        try:
            yield url, engine
        finally:
            engine.dispose()
