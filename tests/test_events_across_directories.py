"""Writers of different directories do not wait for each other on PostgreSQL, and a reader
following the global stream by cursor still gets every event once, each directory's in
commit order.

Publishing used to take one lock for the whole database, so that sequence order was
commit order. Now an event's position in the stream is given after its transaction
commits (``store/events.py``); these tests write from several connections, threads and
processes at once against a reader polling the stream the whole time.
"""

import multiprocessing
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from conftest import postgres_database
from factories import scope_of
from scimgate.scim.resources import UserResource
from scimgate.service.administration import tenants
from scimgate.service.event_stream import event_feed
from scimgate.service.event_stream.event_feed import EventFilter
from scimgate.service.event_stream.publishing import Recorded, publish_recorded
from scimgate.service.operations import maintenance
from scimgate.service.provisioning import users
from scimgate.service.provisioning.scope import Scope
from scimgate.store.engine import open_engine
from scimgate.store.errors import Busy
from scimgate.store.events import NewEvent
from scimgate.store.ids import new_id, utcnow
from scimgate.store.migrate import upgrade
from scimgate.store.stamps import stamp_in
from scimgate.store.tables.event_stream import events
from scimgate.store.transactions import reading, writing

DIRECTORIES = 8
WRITES = 200
"""Creates per directory, shared between two writer processes."""

PROCESSES = 2
PAGE = 50

LOCK_TIMEOUT = "?options=-c%20lock_timeout%3D1000"
"""A connection option: a lock not granted within 1 s fails the statement (SQLSTATE 55P03).

The database is this module's own and its tests run one after another, so no lock is waited
for but the one a test holds open on purpose, which is not released in time however long
the wait: its length only decides how soon that is found out."""


@pytest.fixture(scope="module")
def private_postgres(database_url: str) -> Iterator[str]:
    """A migrated PostgreSQL database of this module's own, dropped after its tests.

    Each test makes directories of its own in it and reads the stream from where it stood
    when the test began; no test leaves a deprovisioning for another's overdue alerts.
    """
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serializes writers; the question is PostgreSQL's")
    with postgres_database("scimgate_streams") as url:
        engine = open_engine(url)
        try:
            upgrade(engine)
            yield url
        finally:
            engine.dispose()


def _new_directories(engine: Engine, count: int) -> list[str]:
    organization = tenants.create_organization(engine, f"streams {new_id()}")
    return [
        tenants.create_directory(engine, organization.id, f"directory {n}").directory.id
        for n in range(count)
    ]


def _event(scope: Scope) -> NewEvent:
    """An event as a changing transaction of the directory records it."""
    return NewEvent(
        id=new_id(),
        organization_id=scope.directory.organization_id,
        directory_id=scope.directory_id,
        type="user.created",
        resource_id=new_id(),
        occurred_at=utcnow(),
        data={},
    )


def _create(scope: Scope, name: str) -> str:
    return users.create_user(scope, UserResource(user_name=name, active=True)).id


def test_a_write_held_open_in_one_directory_holds_up_no_other_directory(
    private_postgres: str,
) -> None:
    engine = open_engine(private_postgres)
    impatient = open_engine(private_postgres + LOCK_TIMEOUT)
    try:
        held, other = _new_directories(engine, 2)
        cursor = event_feed.latest_cursor(engine)
        announced = _event(scope_of(engine, held))
        with writing(engine) as conn:
            # What every changing transaction does last, before it commits.
            publish_recorded(conn, [Recorded(announced, None)])
            created = _create(scope_of(impatient, other), "while-held@example.com")
            meanwhile = event_feed.read_events(impatient, cursor, PAGE, EventFilter())
        after = event_feed.read_events(impatient, meanwhile.next_cursor, PAGE, EventFilter())
    finally:
        impatient.dispose()
        engine.dispose()

    assert [(event["directory_id"], event["data"]["user"]["id"]) for event in meanwhile.events] == [
        (other, created)
    ]
    assert [event["id"] for event in after.events] == [announced.id]
    assert after.events[0]["sequence"] > meanwhile.events[0]["sequence"]


def test_an_overdue_alert_waits_for_its_directory_like_any_publisher(
    private_postgres: str,
) -> None:
    """Publishing holds the directory's row lock, so a directory's events keep commit order."""
    engine = open_engine(private_postgres)
    impatient = open_engine(private_postgres + LOCK_TIMEOUT)
    try:
        (directory_id,) = _new_directories(engine, 1)
        scope = scope_of(engine, directory_id)
        leaver = _create(scope, "leaver@example.com")
        users.replace_user(
            scope, leaver, UserResource(user_name="leaver@example.com", active=False), None
        )
        cursor = event_feed.latest_cursor(engine)
        announced = _event(scope)
        with writing(engine) as conn:
            publish_recorded(conn, [Recorded(announced, None)])
            with pytest.raises(Busy):
                maintenance.raise_overdue_alerts(impatient, timedelta(0))
        assert maintenance.raise_overdue_alerts(engine, timedelta(0)) == 1
        page = event_feed.read_events(engine, cursor, PAGE, EventFilter(directory_id=directory_id))
    finally:
        impatient.dispose()
        engine.dispose()

    assert [event["type"] for event in page.events] == ["user.created", "offboarding.overdue"]
    assert page.events[0]["id"] == announced.id


def _write(
    url: str, directory_ids: list[str], count: int, label: str, confirmed: bool
) -> dict[str, list[str]]:
    """One writer process: a thread per directory, each on an engine of its own.

    ``confirmed``: as a SCIM request, whose credential stamp confirmed the directory, which
    on PostgreSQL writes a create as one statement once the process keeps the directory's
    configuration (after its first create, a transaction: ``store.published_inserts``)."""

    def write(directory_id: str) -> list[str]:
        engine = open_engine(url)
        try:
            scope = scope_of(engine, directory_id)
            if confirmed:
                with reading(engine) as conn:
                    scope = replace(scope, confirmed_stamp=stamp_in(conn, directory_id))
            return [_create(scope, f"{label}-{n}@example.com") for n in range(count)]
        finally:
            engine.dispose()

    with ThreadPoolExecutor(max_workers=len(directory_ids)) as pool:
        return dict(zip(directory_ids, pool.map(write, directory_ids), strict=True))


@dataclass
class Reader:
    """Follows the whole stream by cursor, a page at a time, until told writing is over."""

    engine: Engine
    cursor: int
    seen: list[dict[str, Any]]
    done: threading.Event

    def follow(self) -> None:
        while True:
            finishing = self.done.is_set()
            page = event_feed.read_events(self.engine, self.cursor, PAGE, EventFilter())
            self.seen.extend(page.events)
            self.cursor = page.next_cursor
            if finishing and not page.events:
                return


@pytest.mark.parametrize("confirmed", [False, True], ids=["transactions", "one statement"])
def test_a_cursor_reader_gets_every_event_once_while_directories_write_at_once(
    private_postgres: str, confirmed: bool
) -> None:
    engine = open_engine(private_postgres)
    reader = Reader(engine, event_feed.latest_cursor(engine), [], threading.Event())
    directory_ids = _new_directories(engine, DIRECTORIES)
    following = threading.Thread(target=reader.follow)
    following.start()
    try:
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=PROCESSES, mp_context=spawn) as processes:
            written = [
                processes.submit(
                    _write,
                    private_postgres,
                    directory_ids,
                    WRITES // PROCESSES,
                    f"p{n}",
                    confirmed,
                )
                for n in range(PROCESSES)
            ]
            by_writer = [each.result() for each in written]
    finally:
        reader.done.set()
        following.join()
    try:
        with reading(engine) as conn:
            inserted = {
                directory_id: list(
                    conn.execute(
                        select(events.c.resource_id)
                        .where(events.c.directory_id == directory_id)
                        .order_by(events.c.seq)
                    ).scalars()
                )
                for directory_id in directory_ids
            }
    finally:
        engine.dispose()

    ids = [event["id"] for event in reader.seen]
    assert len(ids) == len(set(ids)), "an event was read twice"
    sequences = [event["sequence"] for event in reader.seen]
    assert sequences == sorted(sequences)
    for directory_id in directory_ids:
        read = [
            event["data"]["user"]["id"]
            for event in reader.seen
            if event["directory_id"] == directory_id
        ]
        created = [user_id for writer in by_writer for user_id in writer[directory_id]]
        assert len(created) == WRITES
        assert sorted(read) == sorted(created), "an event was skipped"
        # A directory's transactions insert their events one after another, each after
        # the previous one committed: row order is its commit order.
        assert read == inserted[directory_id]
        for writer in by_writer:
            assert [user_id for user_id in read if user_id in writer[directory_id]] == writer[
                directory_id
            ]
