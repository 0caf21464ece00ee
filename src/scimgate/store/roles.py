"""Role rules of a directory, and the effective roles kept for each user.

Every change of the rules restamps the directory (``scimgate.store.configuration``).
"""

from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, delete, select

from scimgate.records import frozen
from scimgate.store.batches import batches
from scimgate.store.by_ids import by_ids
from scimgate.store.configuration import restamp
from scimgate.store.tables.configuration import role_rules, user_roles
from scimgate.store.tables.resources import users


@frozen
class RoleRule:
    id: str
    kind: str
    """``group_name``, ``group_external_id`` or ``default``."""

    match: str
    """The group's display name (compared case-insensitively) or IdP id; empty for ``default``."""

    role: str
    priority: int
    """Lower first: a user's roles are listed in priority order."""


def add_rule(conn: Connection, directory_id: str, rule: RoleRule) -> None:
    conn.execute(role_rules.insert().values(directory_id=directory_id, **vars(rule)))
    restamp(conn, directory_id)


def remove_rule(conn: Connection, directory_id: str, rule_id: str) -> bool:
    result = conn.execute(
        delete(role_rules).where(
            role_rules.c.directory_id == directory_id, role_rules.c.id == rule_id
        )
    )
    if result.rowcount != 1:
        return False
    restamp(conn, directory_id)
    return True


def remove_default(conn: Connection, directory_id: str) -> None:
    conn.execute(
        delete(role_rules).where(
            role_rules.c.directory_id == directory_id, role_rules.c.kind == "default"
        )
    )
    restamp(conn, directory_id)


_RULES = (
    select(
        role_rules.c.id,
        role_rules.c.kind,
        role_rules.c.match,
        role_rules.c.role,
        role_rules.c.priority,
    )
    .where(role_rules.c.directory_id == bindparam("directory_id"))
    .order_by(role_rules.c.priority, role_rules.c.id)
)
"""Built once: read with every change of a user."""


def rules(conn: Connection, directory_id: str) -> list[RoleRule]:
    rows = conn.execute(_RULES, {"directory_id": directory_id})
    return [RoleRule(**row._mapping) for row in rows]


_ROLES_OF = by_ids(
    lambda user_ids: select(user_roles.c.user_id, user_roles.c.roles).where(
        user_roles.c.directory_id == bindparam("directory_id"), user_ids
    ),
    user_roles.c.user_id,
    "user_ids",
)
"""Built once: read with every change of a user, for its event."""


def roles_of(conn: Connection, directory_id: str, user_ids: Sequence[str]) -> dict[str, list[str]]:
    """The stored roles of these users (a user never computed has none)."""
    found: dict[str, list[str]] = {user_id: [] for user_id in user_ids}
    for batch in batches(user_ids):
        rows = _ROLES_OF.run(conn, batch, {"directory_id": directory_id})
        for user_id, roles in rows:
            found[user_id] = list(roles)
    return found


def store_roles(conn: Connection, directory_id: str, roles: dict[str, list[str]]) -> None:
    """Store these users' new roles (by user id): two statements per batch of users."""
    user_ids = list(roles)
    for batch in batches(user_ids):
        conn.execute(
            delete(user_roles).where(
                user_roles.c.directory_id == directory_id, user_roles.c.user_id.in_(batch)
            )
        )
        conn.execute(
            user_roles.insert(),
            [
                {"directory_id": directory_id, "user_id": user_id, "roles": roles[user_id]}
                for user_id in batch
            ],
        )


def all_user_ids(conn: Connection, directory_id: str) -> list[str]:
    return list(
        conn.execute(select(users.c.id).where(users.c.directory_id == directory_id)).scalars()
    )
