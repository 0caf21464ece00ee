"""Cost per request does not grow with the directory: the same statements, each index-driven.

Timings belong to ``bench/run.py`` (W2 to W4); this test checks what makes them flat:
for a ``userName eq`` lookup and for adding or removing one member of a group,
the service runs the same statements at 1,000 and at 10,000 users/members, and
the database plans none of them as a scan of a tenant table.
"""

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
from scim2_models import Context, Group, PatchOp, SearchRequest
from sqlalchemy import Engine, bindparam, text

from plan_support import statements_where
from scale_fixtures import LargeDirectory, build_directory
from scimgate.scim.resources import UserResource
from scimgate.service.provisioning import groups, listing, users
from scimgate.store.ids import new_id

SIZES = (1_000, 10_000)
TENANT_TABLES = ("users", "groups", "group_members", "events")


@pytest.fixture(scope="module")
def directories(engine: Engine) -> dict[int, LargeDirectory]:
    built = {size: build_directory(engine, size) for size in SIZES}
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return built


def captured(engine: Engine) -> AbstractContextManager[list[tuple[str, Any]]]:
    return statements_where(engine, _reads_or_writes)


def _reads_or_writes(statement: str) -> bool:
    return statement.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH"))


def _scans(engine: Engine, statement: str, parameters: Any) -> list[str]:
    """The tenant tables a statement's plan reads without an index."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            return [row[-1] for row in rows if _sqlite_tenant_scan(row[-1])]
        plan = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters).scalar()
        # A table of a few rows is read whole whatever its indexes: only large ones count.
        large = set(
            conn.execute(
                text(
                    "SELECT relname FROM pg_class WHERE reltuples >= 1000 AND relname IN :names"
                ).bindparams(bindparam("names", expanding=True)),
                {"names": list(TENANT_TABLES)},
            ).scalars()
        )
        conn.rollback()
    return [
        f"{node['Node Type']} on {node['Relation Name']}"
        for node in _plan_nodes(plan[0]["Plan"])
        if node.get("Relation Name") in large and _postgresql_tenant_scan(node)
    ]


_TENANT = "|".join(TENANT_TABLES)


def _sqlite_tenant_scan(detail: str) -> bool:
    """A full scan of a tenant table, or a search that narrows it to the directory only."""
    return bool(
        re.match(rf"SCAN ({_TENANT})\b", detail)
        or re.match(rf"SEARCH ({_TENANT}) USING .*\(directory_id=\?\)$", detail)
    )


def _postgresql_tenant_scan(node: dict[str, Any]) -> bool:
    """A sequential scan, or an index scan whose only condition is the directory."""
    if node.get("Node Type") == "Seq Scan":
        return True
    condition = node.get("Index Cond", "")
    return "directory_id" in condition and condition.count("=") == 1


def _plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _plan_nodes(child)


def _shape(statements: list[tuple[str, Any]]) -> list[str]:
    return [re.sub(r"\s+", " ", statement) for statement, _ in statements]


OPERATIONS: dict[str, Callable[[LargeDirectory], Any]] = {
    "userName eq lookup": lambda d: listing.list_resources(
        d.scope,
        listing.USER_KIND,
        SearchRequest[UserResource].model_validate(
            {"filter": f'userName eq "USER{len(d.user_ids) // 2}@scale.example.com"'}
        ),
    ),
    "add one member": lambda d: groups.patch_group(
        d.scope,
        d.group_id,
        PatchOp[Group].model_validate(
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [
                    {"op": "add", "path": "members", "value": [{"value": _new_user(d)}]}
                ],
            },
            scim_ctx=Context.RESOURCE_PATCH_REQUEST,
        ),
        None,
        respond=False,
    ),
    "remove one member": lambda d: groups.patch_group(
        d.scope,
        d.group_id,
        PatchOp[Group].model_validate(
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "remove", "path": f'members[value eq "{d.user_ids.pop()}"]'}],
            },
            scim_ctx=Context.RESOURCE_PATCH_REQUEST,
        ),
        None,
        respond=False,
    ),
    "read group without members": lambda d: groups.get_group(
        d.scope, d.group_id, with_members=False
    ),
}


def _new_user(directory: LargeDirectory) -> str:
    created = users.create_user(
        directory.scope, UserResource(user_name=f"joiner-{new_id()}@scale.example.com")
    )
    return str(created.id)


@pytest.mark.slow
@pytest.mark.parametrize("operation", OPERATIONS.keys())
def test_work_per_request_does_not_grow_with_the_directory(
    engine: Engine, directories: dict[int, LargeDirectory], operation: str
) -> None:
    shapes = {}
    for size, directory in directories.items():
        with captured(engine) as statements:
            OPERATIONS[operation](directory)
        assert statements, "nothing was executed"
        for statement, parameters in statements:
            assert _scans(engine, statement, parameters) == [], statement
        shapes[size] = _shape(statements)
    small, large = (shapes[size] for size in SIZES)
    assert small == large
