"""PostgreSQL: a new user's row and its event written by one statement.

See ``store.published_inserts``.

A request whose directory its credential stamp confirmed, in a directory whose
configuration this process keeps and that gives a new user no roles, creates
the user with one statement that commits on its own. What it writes must be
what the transaction it replaces writes: the row, the directory's count, the
event (or the held event), and nothing at all when the userName is taken.
"""

import secrets
from dataclasses import replace
from typing import Any

import pytest
from scim2_models import Context, UniquenessException
from sqlalchemy import Engine, select

from event_support import published
from factories import scope_of
from plan_support import statements_where
from scimgate.scim.requests import read_resource
from scimgate.service.administration import roles, tenants
from scimgate.service.provisioning import users
from scimgate.service.provisioning.scope import Scope
from scimgate.store import held_events
from scimgate.store.resource_tables import USERS
from scimgate.store.stamps import stamp_in
from scimgate.store.tables.resources import users as user_rows
from scimgate.store.transactions import reading

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


@pytest.fixture
def pg_engine(engine: Engine) -> Engine:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's writes are committed in groups, not as one statement each")
    return engine


def _directory(engine: Engine, *, dry_run: bool = False) -> Scope:
    """A directory's scope as a request confirmed it, its configuration kept by this process
    (a first create read it)."""
    organization = tenants.create_organization(engine, f"lone {secrets.token_hex(3)}")
    directory_id = tenants.create_directory(
        engine, organization.id, "lone", dry_run=dry_run
    ).directory.id
    return _confirmed(engine, directory_id)


def _confirmed(engine: Engine, directory_id: str, first: str = "first") -> Scope:
    with reading(engine) as conn:
        stamp = stamp_in(conn, directory_id)
    scope = replace(scope_of(engine, directory_id), confirmed_stamp=stamp)
    _create(scope, first)
    return scope


def _create(scope: Scope, nick: str) -> str:
    body = {
        "schemas": [USER_SCHEMA],
        "userName": f"{nick}@example.com",
        "externalId": f"ext-{nick}",
        "name": {"givenName": "Ada", "familyName": nick},
        "emails": [{"value": f"{nick}@example.com", "type": "work", "primary": True}],
        "active": True,
    }
    model = read_resource(
        scope.models.user, body, Context.RESOURCE_CREATION_REQUEST, "user", scope.users_url
    )
    return users.create_user(scope, model).id


def _row(engine: Engine, directory_id: str, user_id: str) -> dict[str, Any]:
    with reading(engine) as conn:
        row = conn.execute(
            select(user_rows).where(
                user_rows.c.directory_id == directory_id, user_rows.c.id == user_id
            )
        ).one()
    kept = dict(row._mapping)
    for key in ("id", "directory_id", "created_at", "modified_at", "confirmed_at"):
        kept.pop(key)
    kept["doc"] = {key: value for key, value in kept["doc"].items() if key not in ("id", "meta")}
    return kept


def _count(engine: Engine, directory_id: str) -> int:
    with reading(engine) as conn:
        return USERS.count(conn, directory_id, None)


def _created_event(engine: Engine, directory_id: str, user_id: str) -> dict[str, Any]:
    [event] = [
        each
        for each in published(engine, directory_id)
        if each.resource_id == user_id and each.type == "user.created"
    ]
    data: dict[str, Any] = dict(event.data)
    user = {
        key: value
        for key, value in data.pop("user").items()
        if key not in ("id", "directory_id", "raw")
    }
    return {**data, "user": user}


def test_a_create_is_one_statement_writing_what_a_transaction_writes(pg_engine: Engine) -> None:
    alone = _directory(pg_engine)
    # The same create in a directory the request did not confirm takes a transaction.
    other = tenants.create_directory(
        pg_engine, alone.directory.organization_id, "transaction"
    ).directory.id
    in_transaction = scope_of(pg_engine, other)

    with statements_where(pg_engine, lambda statement: True) as seen:
        created = _create(alone, "grace")
    assert len(seen) == 1, [statement for statement, _ in seen]
    [(statement, _)] = seen
    assert "INSERT INTO users" in statement and "INSERT INTO events" in statement

    with statements_where(pg_engine, lambda statement: True) as seen:
        compared = _create(in_transaction, "grace")
    assert len(seen) > 1

    assert _row(pg_engine, alone.directory_id, created) == _row(pg_engine, other, compared)
    assert _count(pg_engine, alone.directory_id) == 2
    assert _count(pg_engine, other) == 1
    assert _created_event(pg_engine, alone.directory_id, created) == _created_event(
        pg_engine, other, compared
    )


def test_a_directory_holding_its_events_holds_the_event(pg_engine: Engine) -> None:
    scope = _directory(pg_engine, dry_run=True)
    with statements_where(pg_engine, lambda statement: True) as seen:
        created = _create(scope, "held")
    assert len(seen) == 1
    assert published(pg_engine, scope.directory_id) == []
    with reading(pg_engine) as conn:
        held = held_events.held(conn, scope.directory_id)
    assert [(each.type, each.resource_id) for each in held][-1] == ("user.created", created)
    assert len(held) == 2


def test_a_taken_user_name_writes_nothing(pg_engine: Engine) -> None:
    scope = _directory(pg_engine)
    _create(scope, "taken")
    events_before = published(pg_engine, scope.directory_id)
    inserting = statements_where(pg_engine, lambda statement: "INSERT INTO users" in statement)
    with inserting as seen, pytest.raises(UniquenessException, match="already belongs to user"):
        _create(scope, "taken")
    assert len(seen) == 1
    assert _count(pg_engine, scope.directory_id) == 2
    assert published(pg_engine, scope.directory_id) == events_before


def test_a_directory_giving_new_users_roles_takes_a_transaction(pg_engine: Engine) -> None:
    scope = _directory(pg_engine)
    roles.add_rule(pg_engine, scope.directory_id, "default", "", "member", 1000)
    scope = _confirmed(pg_engine, scope.directory_id, "second")
    created = _create(scope, "member")
    assert _created_event(pg_engine, scope.directory_id, created)["user"]["roles"] == ["member"]
