"""The hot statements run through the driver (``scimgate.store.prepared``) do what the same
statements do through SQLAlchemy: the same rows, byte for byte, the same answers, the same errors.

Each example runs the same store calls twice in one database, once through an engine
on the driver path and once through an engine on the general path, each in a
transaction that is rolled back, and compares what they wrote and read.
"""

import secrets
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.exc import IntegrityError

from property_support import property_settings
from scim_payloads import GROUP_SCHEMA, USER_SCHEMA
from scimgate.scim.compare import fold
from scimgate.service.administration import tenants
from scimgate.store import configuration, events, membership_lists, memberships, provisioning_logs
from scimgate.store.engine import open_engine
from scimgate.store.errors import Conflict
from scimgate.store.event_subjects import users_with_groups, users_with_roles
from scimgate.store.events import NewEvent
from scimgate.store.ids import new_id
from scimgate.store.prepared import Prepared, through_sqlalchemy
from scimgate.store.provisioning_logs import LogEntry
from scimgate.store.resource_tables import GROUPS, USERS, ResourceTable
from scimgate.store.stored_resources import StoredResource
from scimgate.store.tables.event_stream import events as events_table
from scimgate.store.tenants import lock_directory
from scimgate.store.transactions import writing


@pytest.fixture(scope="module")
def general(database_url: str) -> Iterator[Engine]:
    """A second engine on the same database, whose prepared statements go through SQLAlchemy."""
    engine = open_engine(database_url)
    through_sqlalchemy(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def directory_id(engine: Engine) -> str:
    organization = tenants.create_organization(engine, f"o-{secrets.token_hex(4)}")
    return tenants.create_directory(engine, organization.id, "d").directory.id


# Values as identity providers send them, and the odd ones that stress the encoding.
names = st.text(
    st.characters(codec="utf-8", exclude_characters="\x00", exclude_categories=["Cs"]),
    min_size=1,
    max_size=40,
)
optional_names = st.none() | names
instants = st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | names,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def user_docs(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = {"schemas": [USER_SCHEMA], "userName": draw(names)}
    for key, values in (
        ("externalId", optional_names),
        ("displayName", optional_names),
        ("active", st.none() | st.booleans()),
        ("title", json_values),
    ):
        value = draw(values)
        if value is not None:
            doc[key] = value
    return doc


@st.composite
def group_docs(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = {"schemas": [GROUP_SCHEMA], "displayName": draw(names)}
    external_id = draw(optional_names)
    if external_id is not None:
        doc["externalId"] = external_id
    return doc


@st.composite
def resources(draw: st.DrawFn, docs: st.SearchStrategy[dict[str, Any]]) -> StoredResource:
    created = draw(instants)
    return StoredResource(
        new_id(),
        draw(docs),
        created,
        created + draw(st.timedeltas(timedelta(0), timedelta(days=9))),
        # The column is a 32-bit integer, and a member change stores the next version.
        draw(st.integers(min_value=1, max_value=2**31 - 2)),
        draw(st.none() | instants),
    )


def _rolled_back(engine: Engine, work: Callable[[Connection], Any]) -> Any:
    """What ``work`` returned in a writing transaction that is then rolled back."""

    class Undone(Exception):
        pass

    answer: list[Any] = []
    with pytest.raises(Undone), writing(engine) as conn:
        answer.append(work(conn))
        raise Undone
    return answer[0]


def _raw_rows(conn: Connection, table: str, where: str, **parameters: Any) -> list[Any]:
    """A table's rows as stored, every column as the database's own text."""
    columns = conn.exec_driver_sql(f"SELECT * FROM {table} LIMIT 0").keys()
    as_text = ", ".join(f"CAST({column} AS TEXT)" for column in columns)
    query = text(f"SELECT {as_text} FROM {table} WHERE {where} ORDER BY 1")
    return [tuple(row) for row in conn.execute(query, parameters)]


def _both(engine: Engine, general: Engine, work: Callable[[Connection], Any]) -> Any:
    """``work`` on the driver path and on the general path: their answers, which must agree."""
    fast = _rolled_back(engine, work)
    slow = _rolled_back(general, work)
    assert repr(fast) == repr(slow)
    return fast


def _resource_work(
    table: ResourceTable, directory_id: str, first: StoredResource, second: StoredResource
) -> Callable[[Connection], Any]:
    key, value_of = (
        ("user_name_key", lambda doc: fold(doc["userName"]))
        if table is USERS
        else ("display_name_key", lambda doc: fold(doc["displayName"]))
    )

    def work(conn: Connection) -> Any:
        table.insert(conn, directory_id, first)
        try:
            with conn.begin_nested():
                table.insert(conn, directory_id, second)
            refused = None
        except Conflict as exc:
            # Only a taken userName can fail, as the same error either way.
            refused = exc.uniqueness
        if refused is None:  # the second takes the first's document but its own name
            name = "userName" if table is USERS else "displayName"
            doc = {**first.doc, name: second.doc[name]}
            table.replace(conn, directory_id, second.doc, replace(second, doc=doc, version=7))
        ids = (first.id, second.id)
        # Confirmed together (one call to the driver for both), then the first alone.
        table.confirm(conn, directory_id, ids, datetime(2031, 5, 6, 7, 8, 9, 10, tzinfo=UTC))
        table.confirm(conn, directory_id, ids[:1], datetime(2032, 1, 2, 3, 4, 5, tzinfo=UTC))
        return (
            _raw_rows(conn, table.table.name, "id IN (:a, :b)", a=ids[0], b=ids[1]),
            _raw_rows(conn, "resource_counts", "directory_id = :d", d=directory_id),
            refused,
            table.get(conn, directory_id, first.id),
            table.get(conn, directory_id, second.id, for_update=True),
            table.get(conn, directory_id, new_id()),
            table.matching(conn, directory_id, key, value_of(first.doc), 5),
            table.matching(conn, directory_id, "external_id", first.doc.get("externalId"), 1),
        )

    return work


@given(
    first=resources(user_docs()),
    second=resources(user_docs()),
    same_name=st.booleans(),
)
@property_settings(40)
def test_users_are_written_and_read_as_through_sqlalchemy(
    engine: Engine,
    general: Engine,
    directory_id: str,
    first: StoredResource,
    second: StoredResource,
    same_name: bool,
) -> None:
    if same_name:  # the same userName in another case: the unique index refuses it
        second = replace(second, doc={**second.doc, "userName": first.doc["userName"].upper()})
    rows, *_ = _both(engine, general, _resource_work(USERS, directory_id, first, second))
    assert rows, "the rows were written"


@given(first=resources(group_docs()), second=resources(group_docs()))
@property_settings(25)
def test_groups_are_written_and_read_as_through_sqlalchemy(
    engine: Engine,
    general: Engine,
    directory_id: str,
    first: StoredResource,
    second: StoredResource,
) -> None:
    rows, _, _, first_read, second_read, *_ = _both(
        engine, general, _resource_work(GROUPS, directory_id, first, second)
    )
    assert len(rows) == 2
    assert (first_read.confirmed_at.year, second_read.confirmed_at.year) == (2032, 2031)


@given(data=json_values, resource_id=optional_names, occurred_at=instants, at=instants)
@property_settings(25)
def test_events_are_written_as_through_sqlalchemy(
    engine: Engine,
    general: Engine,
    directory_id: str,
    data: Any,
    resource_id: str | None,
    occurred_at: datetime,
    at: datetime,
) -> None:
    event_id = new_id()

    def work(conn: Connection) -> Any:
        directory = configuration.directory(conn, directory_id)
        locked = lock_directory(conn, directory_id)
        event = NewEvent(
            event_id,
            directory.organization_id,
            directory_id,
            "user.created",
            resource_id,
            occurred_at,
            {"payload": data},
        )
        events.publish(conn, [event], at)
        # The row's seq comes from a sequence PostgreSQL does not roll back: left out.
        rows = _raw_rows(conn, "events", "id = :id", id=event.id)
        seq_at = list(conn.exec_driver_sql("SELECT * FROM events LIMIT 0").keys()).index("seq")
        return directory, locked, [row[:seq_at] + row[seq_at + 1 :] for row in rows]

    directory, locked, rows = _both(engine, general, work)
    assert directory == locked and len(rows) == 1


@pytest.mark.parametrize(
    ("on_the_connection", "identifier"),
    [
        (False, "before_cursor_execute"),
        (False, "after_cursor_execute"),  # as a tracer's
        (True, "before_cursor_execute"),
    ],
)
def test_the_driver_path_is_seen_by_statement_listeners(
    engine: Engine, directory_id: str, on_the_connection: bool, identifier: str
) -> None:
    """What counts statements (tests/service/test_write_statements.py and others) sees these
    too: the engine's listeners before or after a statement, and a connection's own."""
    seen: list[str] = []

    def listener(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    def work(conn: Connection) -> Any:
        # On SQLite the connection is the writers' kept one: the listener goes with the test.
        target: Any = conn if on_the_connection else engine
        event.listen(target, identifier, listener)
        try:
            return configuration.directory(conn, directory_id)
        finally:
            event.remove(target, identifier, listener)

    _rolled_back(engine, work)
    assert len(seen) == 1 and "FROM directories" in seen[0], seen


def test_listeners_are_asked_again_in_each_transaction(engine: Engine, directory_id: str) -> None:
    """Whether a connection's statements go to the driver at once is kept for its transaction
    only: a listener added before the next transaction sees that one's statements."""
    seen: list[str] = []

    def listener(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    with engine.connect() as conn:
        with conn.begin():
            configuration.directory(conn, directory_id)  # unwatched: on the driver
        event.listen(conn, "before_cursor_execute", listener)
        try:
            with conn.begin():
                configuration.directory(conn, directory_id)
        finally:
            event.remove(conn, "before_cursor_execute", listener)
    assert len(seen) == 1 and "FROM directories" in seen[0], seen


def test_a_driver_error_is_raised_as_through_sqlalchemy(
    engine: Engine, general: Engine, directory_id: str
) -> None:
    """Without statement listeners the driver path skips SQLAlchemy's cursor execution, and
    still raises what it raises: the same exception, its parameters hidden (they hold request
    data)."""
    secret = f"secret-{secrets.token_hex(4)}"
    orphan = StoredResource.new(
        new_id(), {"schemas": [USER_SCHEMA], "userName": secret}, datetime.now(UTC)
    )
    raised = []
    for each in (engine, general):
        with pytest.raises(IntegrityError) as caught, writing(each) as conn:
            USERS.insert(conn, new_id(), orphan)  # no such directory: its foreign key fails
        raised.append(caught.value)
    fast, slow = raised
    assert type(fast.orig) is type(slow.orig)
    assert secret not in str(fast) and "parameters hidden" in str(fast)


def test_a_statement_that_computes_values_in_python_is_not_prepared(engine: Engine) -> None:
    """A column default computed in Python would be skipped by the driver path: refused."""
    with pytest.raises(ValueError, match="not a statement to prepare"):
        _rolled_back(
            engine,
            lambda conn: Prepared(events_table.insert().returning(events_table.c.seq)).execute(
                conn, {}
            ),
        )


@given(
    user=resources(user_docs()),
    group=resources(group_docs()),
    display=optional_names,
    advanced_at=instants,
)
@property_settings(25)
def test_member_changes_are_written_and_read_as_through_sqlalchemy(
    engine: Engine,
    general: Engine,
    directory_id: str,
    user: StoredResource,
    group: StoredResource,
    display: str | None,
    advanced_at: datetime,
) -> None:
    """What a one-member change runs: its single-id reads, the member row, the group's version."""

    def work(conn: Connection) -> Any:
        USERS.insert(conn, directory_id, user)
        GROUPS.insert(conn, directory_id, group)
        before = memberships.already_and_users(conn, directory_id, group.id, [user.id])
        added = memberships.add(
            conn, directory_id, group.id, [memberships.NewMember(user.id, "User", display)]
        )
        again = memberships.add(
            conn, directory_id, group.id, [memberships.NewMember(user.id, "User", display)]
        )
        GROUPS.advance(conn, directory_id, group.evolved(group.doc, advanced_at))
        return (
            before,
            added,
            again,
            memberships.already_and_users(conn, directory_id, group.id, [user.id]),
            memberships.member_ids(conn, directory_id, group.id, [user.id]),
            membership_lists.groups_of(conn, directory_id, [user.id]),
            USERS.existing_ids(conn, directory_id, [user.id], lock=True),
            GROUPS.get_many(conn, directory_id, [group.id]),
            users_with_groups(conn, directory_id, [user.id]),
            users_with_roles(conn, directory_id, [user.id]),
            _raw_rows(conn, "group_members", "group_id = :g", g=group.id),
            _raw_rows(conn, "groups", "id = :g", g=group.id),
        )

    answers = _both(engine, general, work)
    assert answers[1:3] == (1, 0)


@st.composite
def log_entries(draw: st.DrawFn, directory_id: str) -> LogEntry:
    return LogEntry(
        id=new_id(),
        directory_id=directory_id,
        request_id=new_id(),
        received_at=draw(instants),
        method=draw(st.sampled_from(["GET", "POST", "PATCH", "PUT", "DELETE"])),
        path=f"/scim/v2/{directory_id}/Users",
        query=draw(optional_names),
        status=draw(st.integers(min_value=100, max_value=599)),
        latency_ms=draw(st.integers(min_value=0, max_value=2**31 - 1)),
        client=draw(st.none() | st.sampled_from(["entra", "okta"])),
        user_agent=draw(optional_names),
        scim_type=draw(st.none() | st.sampled_from(["uniqueness", "invalidFilter"])),
        error_detail=draw(optional_names),
        resource_type=draw(st.none() | st.sampled_from(["User", "Group"])),
        resource_id=draw(st.none() | st.just(new_id())),
        user_name=draw(optional_names),
        request_body=draw(json_values),
        response_body=draw(json_values),
        diagnosis=draw(optional_names),
    )


@given(data=st.data(), count=st.integers(min_value=1, max_value=3))
@property_settings(25)
def test_log_entries_are_written_as_through_sqlalchemy(
    engine: Engine, general: Engine, directory_id: str, data: st.DataObject, count: int
) -> None:
    """One entry alone (one execution) and several (one ``executemany``), as the log writes them."""
    entries = [data.draw(log_entries(directory_id)) for _ in range(count)]

    def work(conn: Connection) -> Any:
        provisioning_logs.insert(conn, entries)
        ids = ", ".join(f"'{entry.id}'" for entry in entries)
        return (
            _raw_rows(conn, "provisioning_logs", f"id IN ({ids})"),
            [provisioning_logs.get(conn, entry.id, directory_id) for entry in entries],
        )

    rows, read = _both(engine, general, work)
    assert len(rows) == count
    assert [found.id if found else None for found in read] == [entry.id for entry in entries]


@given(
    count=st.sampled_from([2, 3, 5, 8, 9, 33, 64, 65, 70]),
    data=st.data(),
    group=resources(group_docs()),
    display=optional_names,
)
@property_settings(20)
def test_changes_of_several_members_are_written_and_read_as_through_sqlalchemy(
    engine: Engine,
    general: Engine,
    directory_id: str,
    count: int,
    data: st.DataObject,
    group: StoredResource,
    display: str | None,
) -> None:
    """What a change of several members runs: reads by a few ids (a placeholder each, the list
    padded with its last id) or by more than ``MOST_PLACED`` (an expanding ``IN``), and the
    member rows and the events each written in one call to the driver."""
    users = data.draw(
        st.lists(
            resources(user_docs()),
            min_size=count,
            max_size=count,
            unique_by=lambda user: fold(user.doc["userName"]),
        )
    )
    stored = users[: data.draw(st.integers(min_value=1, max_value=count))]
    already = stored[: data.draw(st.integers(min_value=0, max_value=len(stored)))]
    # Asked in any order, some twice, with ids the directory does not have.
    asked = data.draw(st.permutations([user.id for user in users]))
    asked += data.draw(st.lists(st.sampled_from(asked), max_size=3))
    event_ids = {user.id: new_id() for user in users}

    def work(conn: Connection) -> Any:
        lock_directory(conn, directory_id)
        GROUPS.insert(conn, directory_id, group)
        for user in stored:
            USERS.insert(conn, directory_id, user)
        before_added = memberships.add(
            conn, directory_id, group.id, [memberships.NewMember(u.id, "User") for u in already]
        )
        joiners = memberships.already_and_users(conn, directory_id, group.id, asked)
        members, joining = joiners.already, joiners.users
        added = memberships.add(
            conn,
            directory_id,
            group.id,
            [memberships.NewMember(member_id, "User", display) for member_id in sorted(joining)],
        )
        directory = configuration.directory(conn, directory_id)
        new = [
            NewEvent(
                event_ids[member_id],
                directory.organization_id,
                directory_id,
                "group.user_added",
                member_id,
                datetime(2030, 1, 2, tzinfo=UTC),
                {"member": member_id},
            )
            for member_id in sorted(joining)
        ]
        events.publish(conn, new, datetime(2030, 1, 3, tzinfo=UTC))
        seq_at = list(conn.exec_driver_sql("SELECT * FROM events LIMIT 0").keys()).index("seq")
        published = [
            row[:seq_at] + row[seq_at + 1 :]
            for event in new
            for row in _raw_rows(conn, "events", "id = :id", id=event.id)
        ]
        with_groups = users_with_groups(conn, directory_id, asked)
        return (
            before_added,
            sorted(members),
            sorted(joining),
            added,
            published,
            sorted(memberships.member_ids(conn, directory_id, group.id, asked)),
            membership_lists.groups_of(conn, directory_id, asked),
            sorted(USERS.existing_ids(conn, directory_id, asked, lock=True)),
            sorted(GROUPS.get_many(conn, directory_id, [group.id, *asked]).items()),
            sorted(USERS.get_many(conn, directory_id, asked).items()),
            None if with_groups is None else sorted(with_groups.items()),
            sorted(users_with_roles(conn, directory_id, asked).items()),
            _raw_rows(conn, "group_members", "group_id = :g", g=group.id),
        )

    answers = _both(engine, general, work)
    assert answers[0] == len(already) and answers[3] == len(stored) - len(already)
    assert answers[2] == sorted(user.id for user in stored[len(already) :])
