"""The users events are about, read with what their payloads carry: roles, and groups.

Each read is one statement per batch of ids, built once, as it runs for every
user an event is about (a member added, say).
"""

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, null, select, union_all

from scimgate.store.batches import batches
from scimgate.store.by_ids import ByIds, IdsCondition, by_ids
from scimgate.store.column_codec import PLAIN, codec_of
from scimgate.store.engine import takes_turns
from scimgate.store.resource_tables import USERS
from scimgate.store.stored_resources import StoredResource
from scimgate.store.tables.configuration import user_roles
from scimgate.store.tables.resources import group_members, groups, users

_USERS_WITH_ROLES = by_ids(
    lambda ids: (
        select(*USERS.stored_columns(), user_roles.c.roles)
        .select_from(
            users.outerjoin(
                user_roles,
                (user_roles.c.directory_id == users.c.directory_id)
                & (user_roles.c.user_id == users.c.id),
            )
        )
        .where(users.c.directory_id == bindparam("directory_id"), ids)
    ),
    users.c.id,
    "ids",
)


def users_with_roles(
    conn: Connection, directory_id: str, user_ids: Sequence[str]
) -> dict[str, tuple[StoredResource, list[str]]]:
    """These users of the directory by id, each with its stored roles (none if never
    computed), one statement per batch of ids; ids the directory does not have are left out."""
    codec = codec_of(conn)
    found: dict[str, tuple[StoredResource, list[str]]] = {}
    for batch in batches(user_ids):
        for row in _USERS_WITH_ROLES.run(conn, batch, {"directory_id": directory_id}):
            found[row[0]] = (USERS.stored_from(codec, directory_id, row), list(row[6] or []))
    return found


GroupRow = tuple[str, str, str | None]
"""A group a user is in: its id, displayName and externalId."""


def with_groups(ids: IdsCondition) -> Any:
    """Each user's row with its roles (group columns null), then a row per group it is in
    (user columns null): the users whose id meets ``ids``. Read with :func:`gathered`."""
    user_rows = (
        select(*USERS.stored_columns(), user_roles.c.roles, null(), null(), null())
        .select_from(
            users.outerjoin(
                user_roles,
                (user_roles.c.directory_id == users.c.directory_id)
                & (user_roles.c.user_id == users.c.id),
            )
        )
        .where(users.c.directory_id == bindparam("directory_id"), ids(users.c.id))
    )
    return union_all(user_rows, group_rows(ids))


def group_rows(ids: IdsCondition) -> Any:
    """A row per group each of the users whose id meets ``ids`` is in, laid out as
    :func:`with_groups` lays out its group rows (user columns null)."""
    gm = group_members.c
    return (
        select(
            gm.member_id, *[null()] * 6, groups.c.id, groups.c.display_name, groups.c.external_id
        )
        .select_from(group_members.join(groups, groups.c.id == gm.group_id))
        .where(gm.directory_id == bindparam("directory_id"), ids(gm.member_id))
    )


UserWithGroups = tuple[StoredResource, list[str], list[GroupRow]]
"""A user's row, its stored roles (none if never computed) and its groups in id order."""


def gathered(directory_id: str, rows: Iterable[Sequence[Any]]) -> dict[str, UserWithGroups]:
    """The users a :func:`with_groups` statement answered, by id (plain rows only)."""
    found: dict[str, UserWithGroups] = {}
    in_groups: dict[str, list[GroupRow]] = {}
    for row in rows:
        if row[7] is None:
            stored = USERS.stored_from(PLAIN, directory_id, row)
            found[row[0]] = (stored, list(row[6] or []), in_groups.setdefault(row[0], []))
        else:
            in_groups.setdefault(row[0], []).append((row[7], row[8], row[9]))
    for _, _, groups_in in found.values():
        groups_in.sort(key=lambda group: group[0])
    return found


USERS_WITH_GROUPS = ByIds(with_groups, "ids")
"""Users by id with their roles and groups, laid out as :func:`with_groups` lays them out."""


def users_with_groups(
    conn: Connection, directory_id: str, user_ids: Sequence[str]
) -> dict[str, UserWithGroups] | None:
    """What :func:`users_with_roles` reads, and each user's groups in id order, in one
    statement per batch; None with encryption on, where group names are sealed (read
    them with ``membership_lists.groups_of``)."""
    if codec_of(conn).sealed:
        return None
    found: dict[str, UserWithGroups] = {}
    for batch in batches(user_ids):
        rows = USERS_WITH_GROUPS.run(conn, batch, {"directory_id": directory_id})
        found.update(gathered(directory_id, rows))
    return found


def user_to_change(conn: Connection, directory_id: str, user_id: str) -> UserWithGroups | None:
    """A user about to change, with its roles and groups, in one statement, where no other
    writer can change it before the transaction ends.

    On SQLite, whose writers take turns (``store.engine.writer``), that is so from the
    start. On PostgreSQL the row is locked first (``FOR UPDATE``), by a statement of its
    own: at READ COMMITTED the statement after it sees every change committed before the
    lock was granted, which one statement that also waited for the lock would not. None
    with encryption on, and for a user the directory does not have: the caller then reads
    them as before."""
    if codec_of(conn).sealed:
        return None
    if not takes_turns(conn.engine) and not USERS.lock(conn, directory_id, user_id):
        return None
    found = users_with_groups(conn, directory_id, [user_id])
    return None if found is None else found.get(user_id)
