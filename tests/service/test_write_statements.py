"""What the hot writes ask the database: each thing once.

A create and a one-member add run under every IdP sync; each statement they
send costs tens of microseconds of CPU. These tests count what they read.
"""

import json
import re
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from scim2_models import NotFoundException, UniquenessException
from sqlalchemy import Engine, event, text

from event_support import published
from scim_payloads import GROUP_SCHEMA, USER_SCHEMA
from scimgate.scim.group_patch import ListedMember, MemberAction, MemberChange
from scimgate.scim.limits import Limits
from scimgate.scim.user_patches import Assignment
from scimgate.service.administration import tenants
from scimgate.service.provisioning import groups, users
from scimgate.service.provisioning.scope import Scope
from scimgate.store.encryption import (
    USER_EXTERNAL_ID_LOOKUP,
    USER_NAME_LOOKUP,
    Keyring,
    key_id_of,
    new_key_line,
)
from scimgate.store.engine import open_engine
from scimgate.store.resource_tables import GROUPS, USERS
from scimgate.store.tables.resources import group_members


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    """The statements the engine runs during the test."""
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    yield seen
    event.remove(engine, "before_cursor_execute", before)


@pytest.fixture
def scope(engine: Engine) -> Scope:
    organization = tenants.create_organization(engine, f"o-{secrets.token_hex(4)}")
    directory = tenants.create_directory(engine, organization.id, "d").directory
    return Scope(engine, directory, f"/scim/v2/{directory.id}", Limits())


def _doc(name: str) -> dict[str, Any]:
    return {"schemas": [USER_SCHEMA], "userName": f"{name}@example.com", "active": True}


_DIRECTORY_READ = re.compile(r"^\s*SELECT\b.*\bFROM directories\b", re.I | re.S)


def test_a_create_reads_its_directory_once_and_postgresql_locks_it_as_it_publishes(
    scope: Scope, statements: list[str], engine: Engine
) -> None:
    """On PostgreSQL the lock that keeps a directory's events in commit order and the event's
    insert are one statement: one round trip fewer."""
    users.create_user_document(scope, _doc("first"))
    statements.clear()

    users.create_user_document(scope, _doc("second"))

    reads = [each for each in statements if _DIRECTORY_READ.match(each)]
    publishing = [each for each in statements if "INSERT INTO events" in each]
    assert len(reads) == 1 and len(publishing) == 1, statements
    locking = [each for each in statements if "FOR NO KEY UPDATE" in each]
    if engine.dialect.name == "sqlite":
        assert not locking, locking
    else:
        assert locking == publishing, statements
        assert publishing[0].index("FOR NO KEY UPDATE") < publishing[0].index("INSERT INTO events")
    created = [
        each for each in published(engine, scope.directory_id) if each.type == "user.created"
    ]
    assert len(created) == 2, created


def test_a_create_counts_its_resource_in_the_statement_that_inserts_it_on_postgresql(
    scope: Scope, statements: list[str], engine: Engine
) -> None:
    """One round trip fewer on PostgreSQL (SQLite, in the process, takes two calls). The
    directory's totals count what was made; a refused create counts nothing."""
    users.create_user_document(scope, _doc("first"))
    statements.clear()

    users.create_user_document(scope, _doc("second"))
    groups.create_group_document(scope, {"schemas": [GROUP_SCHEMA], "displayName": "g"})
    with pytest.raises(UniquenessException):
        users.create_user_document(scope, _doc("FIRST"))

    writes = [each for each in statements if re.match(r"\s*(WITH|INSERT)\b", each)]
    counting = [each for each in writes if "INSERT INTO resource_counts" in each]
    if engine.dialect.name == "sqlite":
        assert not [each for each in counting if "INSERT INTO users" in each], counting
    else:
        inserts = [each for each in writes if re.search(r"INSERT INTO (users|groups)\b", each)]
        assert counting == inserts and len(counting) == 3, writes  # the refused one failed whole
    with engine.connect() as conn:
        assert USERS.count(conn, scope.directory_id, None) == 2
        assert GROUPS.count(conn, scope.directory_id, None) == 1


def test_a_member_added_is_read_with_its_roles_and_groups_in_one_statement(
    scope: Scope, statements: list[str]
) -> None:
    user_id = users.create_user_document(scope, _doc("member")).id
    group = groups.create_group_document(scope, {"schemas": [GROUP_SCHEMA], "displayName": "g"})
    statements.clear()

    groups.patch_group_steps(
        scope,
        group.id,
        [MemberChange(MemberAction.add, (ListedMember(user_id),))],
        None,
        respond=False,
    )

    reads = [each for each in statements if re.match(r"\s*SELECT\b", each, re.I)]
    with_roles = [each for each in reads if "user_roles" in each]
    assert len(with_roles) == 1, with_roles
    assert "FROM users" in with_roles[0] and "JOIN groups" in with_roles[0], with_roles
    assert not [each for each in reads if "JOIN groups" in each and each not in with_roles]


def test_a_create_leaves_the_user_name_to_the_unique_index_and_names_the_holder(
    scope: Scope, statements: list[str]
) -> None:
    holder = users.create_user_document(scope, _doc("taken")).id
    statements.clear()

    users.create_user_document(scope, _doc("free"))
    with pytest.raises(UniquenessException) as refused:
        users.create_user_document(scope, _doc("TAKEN"))

    lookups = [each for each in statements if re.match(r"\s*SELECT\b.*\bFROM users\b", each, re.S)]
    assert len(lookups) == 1, "only the refused create asks who holds the userName"
    assert refused.value.detail == (
        f"userName 'TAKEN@example.com' already belongs to user {holder} in this directory "
        "(userName is unique regardless of case)"
    )


def test_a_member_add_asks_in_one_statement_who_is_in_already_and_who_is_a_user(
    scope: Scope, statements: list[str], engine: Engine
) -> None:
    """PostgreSQL asks twice: the users joining are locked, those already in are not."""
    member = users.create_user_document(scope, _doc("in-already")).id
    joining = users.create_user_document(scope, _doc("joining")).id
    group = groups.create_group_document(
        scope, {"schemas": [GROUP_SCHEMA], "displayName": "g"}, [ListedMember(member)]
    )
    statements.clear()

    add = MemberChange(MemberAction.add, (ListedMember(member), ListedMember(joining)))
    groups.patch_group_steps(scope, group.id, [add], None, respond=False)

    first_insert = next(
        n for n, each in enumerate(statements) if each.startswith("INSERT INTO group_members")
    )
    asked = [each for each in statements[:first_insert] if not each.startswith("SELECT groups.")]
    assert len(asked) == (1 if engine.dialect.name == "sqlite" else 2), asked
    assert [event.type for event in published(engine, scope.directory_id)][-1] == (
        "group.user_added"
    )


def test_a_user_change_reads_the_user_with_its_roles_and_groups_in_one_statement(
    scope: Scope, statements: list[str], engine: Engine
) -> None:
    """SQLite's writers take turns, so the row needs no lock: it is read with the roles and
    groups its event carries, in one statement. PostgreSQL locks the row first (``FOR
    UPDATE``), then reads it with its roles and groups in one statement."""
    user_id = users.create_user_document(scope, _doc("mover")).id
    group = groups.create_group_document(
        scope, {"schemas": [GROUP_SCHEMA], "displayName": "g"}, [ListedMember(user_id)]
    )
    statements.clear()

    changed = users.patch_user_document(scope, user_id, [Assignment(("title",), "Lead")], None)

    assert changed.content["title"] == "Lead"
    assert [each["value"] for each in changed.content["groups"]] == [group.id]
    reads = [each for each in statements if re.match(r"\s*SELECT\b", each, re.I)]
    of_the_user = [each for each in reads if re.search(r"\bFROM users\b", each)]
    roles = [each for each in reads if "user_roles" in each]
    if engine.dialect.name == "sqlite":
        assert len(of_the_user) == 1 and "JOIN groups" in of_the_user[0], reads
        assert roles == of_the_user, reads
    else:
        locked, read = of_the_user
        assert "FOR UPDATE" in locked and "user_roles" not in locked, reads
        assert "JOIN groups" in read and "FOR UPDATE" not in read, reads
        assert roles == [read], reads
    # The groups are read by the statement that reads the user, not on their own.
    assert [each for each in reads if "group_members" in each] == of_the_user[-1:], reads
    [event] = published(engine, scope.directory_id)[-1:]
    assert event.type == "user.updated" and event.data["user"]["groups"][0]["id"] == group.id


def test_a_user_change_that_waits_for_its_lock_sees_what_committed_meanwhile(
    scope: Scope, engine: Engine
) -> None:
    """On PostgreSQL the user's groups are read once its lock is granted: a membership
    committed by the transaction that held the lock is in the answer and the event."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's writers take turns: nothing commits while one waits")
    user_id = users.create_user_document(scope, _doc("waiter")).id
    group = groups.create_group_document(
        scope, {"schemas": [GROUP_SCHEMA], "displayName": "joined meanwhile"}, []
    )
    title = [Assignment(("title",), "Lead")]
    with ThreadPoolExecutor(1) as pool:
        with engine.connect() as holder, holder.begin():
            holder.execute(text("SELECT id FROM users WHERE id = :id FOR UPDATE"), {"id": user_id})
            holder.execute(
                group_members.insert().values(
                    group_id=group.id,
                    member_id=user_id,
                    directory_id=scope.directory_id,
                    member_type="User",
                )
            )
            changing = pool.submit(users.patch_user_document, scope, user_id, title, None)
            _until_a_backend_waits_for_a_lock(engine)
        changed = changing.result(timeout=30)

    assert [each["value"] for each in changed.content["groups"]] == [group.id]
    [event] = published(engine, scope.directory_id)[-1:]
    assert [each["id"] for each in event.data["user"]["groups"]] == [group.id]


def _until_a_backend_waits_for_a_lock(engine: Engine) -> None:
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    deadline = time.monotonic() + 30
    with engine.connect() as watcher:
        while not watcher.execute(waiting).scalar_one():
            assert time.monotonic() < deadline, "the change never waited for the user's lock"
            time.sleep(0.01)


def test_a_change_of_a_user_the_directory_does_not_have_is_the_same_404(
    scope: Scope, engine: Engine
) -> None:
    organization = tenants.create_organization(engine, f"o-{secrets.token_hex(4)}")
    elsewhere = tenants.create_directory(engine, organization.id, "other").directory
    other = Scope(engine, elsewhere, f"/scim/v2/{elsewhere.id}", Limits())
    theirs = users.create_user_document(other, _doc("theirs")).id
    for user_id in (theirs, "01900000-0000-7000-8000-000000000000", "not-an-id"):
        with pytest.raises(NotFoundException) as refused:
            users.patch_user_document(scope, user_id, [Assignment(("title",), "Lead")], None)
        assert refused.value.detail == f"No user with id {user_id} in this directory"


_USER_UPDATE = re.compile(r"^\s*UPDATE users SET (?P<columns>.*?) WHERE", re.I | re.S)


def _set_columns(statements: list[str]) -> list[set[str]]:
    """The columns each update of a user's row sets."""
    return [
        {part.split("=")[0].strip() for part in matched["columns"].split(",")}
        for matched in map(_USER_UPDATE.match, statements)
        if matched
    ]


def _row(engine: Engine, user_id: str) -> dict[str, Any]:
    with engine.connect() as conn:
        query = text("SELECT * FROM users WHERE id = :id")
        return dict(conn.execute(query, {"id": user_id}).one()._mapping)


def test_a_user_change_sets_only_the_columns_whose_values_it_changes(
    scope: Scope, statements: list[str], engine: Engine
) -> None:
    """SQLite rewrites the entries of every index on a column an update sets, changed or not:
    a mover's new title leaves the userName, externalId and displayName columns alone, and a
    change of them sets them to what a create of the same document would have."""
    doc = {**_doc("mover"), "externalId": "ext-1", "displayName": "Mover"}
    user_id = users.create_user_document(scope, doc).id
    statements.clear()

    users.patch_user_document(scope, user_id, [Assignment(("title",), "Principal")], None)
    assert _set_columns(statements) == [{"doc", "modified_at", "version", "confirmed_at"}]

    statements.clear()
    renamed = [
        Assignment(("displayName",), "Moved"),
        Assignment(("userName",), "MOVED@example.com"),
        Assignment(("active",), False),
    ]
    users.patch_user_document(scope, user_id, renamed, None)
    (columns,) = _set_columns(statements)
    assert columns - {"doc", "modified_at", "version", "confirmed_at"} == {
        "user_name",
        "user_name_key",
        "display_name",
        "active",
    }
    row = _row(engine, user_id)
    assert (row["user_name"], row["user_name_key"]) == ("MOVED@example.com", "moved@example.com")
    assert (row["display_name"], row["external_id"], bool(row["active"])) == (
        "Moved",
        "ext-1",
        False,
    )


def test_with_encryption_on_a_user_change_writes_its_whole_row_under_the_newest_key(
    database_url: str,
) -> None:
    """Re-encryption skips a row whose document is under the newest key: a change that sets
    the document must then set every column, changed or not, under that key."""
    first, second = new_key_line("first"), new_key_line("second")
    before = open_engine(database_url, None, (first,))
    after = open_engine(database_url, None, (second, first))
    try:
        organization = tenants.create_organization(before, f"o-{secrets.token_hex(4)}")
        directory = tenants.create_directory(before, organization.id, "d").directory
        doc = {**_doc("sealed"), "externalId": "ext-1", "displayName": "Sealed"}
        old = Scope(before, directory, f"/scim/v2/{directory.id}", Limits())
        user_id = users.create_user_document(old, doc).id
        new = Scope(after, directory, f"/scim/v2/{directory.id}", Limits())
        users.patch_user_document(new, user_id, [Assignment(("title",), "Principal")], None)
        row = _row(after, user_id)
        if row["doc"].startswith('"'):  # SQLite's JSON text of the sealed document's string
            row["doc"] = json.loads(row["doc"])
        keyring = Keyring.parse([second, first])
        sealed = ("doc", "user_name", "display_name")
        assert {column: key_id_of(row[column]) for column in sealed} == dict.fromkeys(
            sealed, keyring.newest.id
        )
        for column, attribute, value in (
            ("user_name_key", USER_NAME_LOOKUP, "sealed@example.com"),
            ("external_id", USER_EXTERNAL_ID_LOOKUP, "ext-1"),
        ):
            newest = keyring.lookups(attribute, directory.id, value, plain=False)[0]
            assert row[column] == newest, column
    finally:
        before.dispose()
        after.dispose()
