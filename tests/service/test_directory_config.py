"""Each process keeps a directory's rules and mappings, and still uses a change made elsewhere.

Two engines on one database stand for two server processes: each keeps its own
copy of the configuration. A role rule or an attribute mapping changed through
one is used by the very next write through the other.
"""

import secrets
from dataclasses import replace

import pytest
from scim2_models import Context
from sqlalchemy import Engine

from event_support import published
from factories import scope_of
from scim_payloads import ENTERPRISE_SCHEMA, USER_SCHEMA
from scimgate.scim.requests import read_resource
from scimgate.service.administration import attribute_mappings, roles, tenants
from scimgate.service.provisioning import users
from scimgate.service.provisioning.scope import Scope
from scimgate.store import roles as role_rows
from scimgate.store.stamps import stamp_in
from scimgate.store.transactions import reading


def _create(scope: Scope, nick: str) -> str:
    body = {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "userName": f"{nick}-{secrets.token_hex(3)}@example.com",
        "nickName": nick,
    }
    model = read_resource(
        scope.models.user, body, Context.RESOURCE_CREATION_REQUEST, "user", scope.users_url
    )
    return users.create_user(scope, model).id


def _created_user(engine: Engine, directory_id: str, user_id: str) -> dict[str, object]:
    event = next(
        each
        for each in published(engine, directory_id)
        if each.resource_id == user_id and each.type == "user.created"
    )
    user: dict[str, object] = event.data["user"]
    return user


def test_a_change_through_one_engine_is_used_by_the_next_write_through_another(
    engine: Engine, other_engine: Engine
) -> None:
    organization = tenants.create_organization(engine, f"config {secrets.token_hex(3)}")
    directory_id = tenants.create_directory(engine, organization.id, "config").directory.id
    here, there = scope_of(engine, directory_id), scope_of(other_engine, directory_id)
    # Both processes have read the configuration as it was: no rules, no mapping of nickName.
    for scope in (here, there):
        created = _create(scope, "before")
        user = _created_user(engine, directory_id, created)
        assert user["roles"] == []
        assert "nick" not in user["custom_attributes"]  # type: ignore[operator]

    attribute_mappings.set_mapping(engine, directory_id, "nick", "nickName")
    user = _created_user(engine, directory_id, _create(there, "mapped"))
    assert user["custom_attributes"]["nick"] == "mapped"  # type: ignore[index]
    assert user["roles"] == []

    roles.add_rule(engine, directory_id, "default", "", "member", 1000)
    created = _create(there, "ruled")
    user = _created_user(engine, directory_id, created)
    assert user["roles"] == ["member"]
    with reading(engine) as conn:
        assert role_rows.roles_of(conn, directory_id, [created])[created] == ["member"]

    # And back: the rule and the mapping removed through the other engine, one at a time.
    (rule,) = roles.list_rules(other_engine, directory_id)
    assert roles.remove_rule(other_engine, directory_id, rule.id)
    user = _created_user(engine, directory_id, _create(here, "unruled"))
    assert user["roles"] == []
    assert user["custom_attributes"]["nick"] == "unruled"  # type: ignore[index]

    assert attribute_mappings.remove_mapping(other_engine, directory_id, "nick")
    user = _created_user(engine, directory_id, _create(here, "unmapped"))
    assert "nick" not in user["custom_attributes"]  # type: ignore[operator]


def test_a_write_uses_a_change_made_after_its_request_confirmed_the_directory(
    engine: Engine,
) -> None:
    """A request's stamp confirmed the directory; then a mapping changed it, before the
    request's write began. On SQLite the write finds the stamp moved, and reads the row."""
    if engine.dialect.name != "sqlite":
        pytest.skip("on PostgreSQL a write takes the directory as its request confirmed it")
    organization = tenants.create_organization(engine, f"config {secrets.token_hex(3)}")
    directory_id = tenants.create_directory(engine, organization.id, "config").directory.id
    with reading(engine) as conn:
        stamp = stamp_in(conn, directory_id)
    assert stamp is not None
    confirmed = replace(scope_of(engine, directory_id), confirmed_stamp=stamp)
    user = _created_user(engine, directory_id, _create(confirmed, "before"))
    assert "nick" not in user["custom_attributes"]  # type: ignore[operator]

    attribute_mappings.set_mapping(engine, directory_id, "nick", "nickName")
    user = _created_user(engine, directory_id, _create(confirmed, "mapped"))
    assert user["custom_attributes"]["nick"] == "mapped"  # type: ignore[index]
