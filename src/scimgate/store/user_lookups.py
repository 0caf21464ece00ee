"""A lookup of users by an indexed key, with the groups each is in, in one statement.

IdPs look a user up by ``userName`` or ``externalId`` before every change they
send. The page that answers lists each user found with its groups; read apart,
that was the key's indexed query, then the memberships of the users it found.
Here both come from one ``UNION ALL``, built once per key column: each user's
row (group columns null), then a row per group it is in (user columns null).
"""

from sqlalchemy import Connection, bindparam, null, select, union_all

from scimgate.store.column_codec import PLAIN, codec_of
from scimgate.store.membership_lists import Membership
from scimgate.store.prepared import Prepared
from scimgate.store.resource_tables import USERS
from scimgate.store.stored_resources import StoredResource
from scimgate.store.tables.resources import group_members, groups, users

_STORED = len(USERS.stored_columns())
"""Where a row's group columns begin."""


def _statement(column: str) -> Prepared:
    """The users of a directory whose ``column`` holds a value (the first ``limit`` in id
    order), and the groups of those users."""
    u, gm = users.c, group_members.c
    matched = (
        select(*USERS.stored_columns())
        .where(u.directory_id == bindparam("directory_id"), u[column] == bindparam("value"))
        .order_by(u.id)
        .limit(bindparam("limit"))
    )
    user_rows = select(*matched.subquery().c, null(), null(), null())
    group_rows = (
        select(
            gm.member_id,
            *[null()] * (_STORED - 1),
            groups.c.id,
            groups.c.display_name,
            groups.c.external_id,
        )
        .select_from(group_members.join(groups, groups.c.id == gm.group_id))
        .where(
            gm.directory_id == bindparam("directory_id"),
            gm.member_id.in_(matched.with_only_columns(u.id)),
        )
    )
    return Prepared(union_all(user_rows, group_rows))


_BY_COLUMN = {column: _statement(column) for column in ("user_name_key", "external_id")}


def matching_with_groups(
    conn: Connection, directory_id: str, column: str, value: str, limit: int
) -> list[tuple[StoredResource, list[Membership]]] | None:
    """Up to ``limit`` of the directory's users whose ``column`` (``user_name_key`` or
    ``external_id``) holds ``value``, in id order, each with its groups in id order.

    None with encryption on, where the key columns hold keyed hashes and group names
    are sealed: the caller reads them apart.
    """
    if codec_of(conn).sealed:
        return None
    found: dict[str, tuple[StoredResource, list[Membership]]] = {}
    memberships: dict[str, list[Membership]] = {}
    for row in _BY_COLUMN[column].rows(
        conn, {"directory_id": directory_id, "value": value, "limit": limit}
    ):
        group_id = row[_STORED]
        if group_id is None:
            stored = USERS.stored_from(PLAIN, directory_id, row)
            found[stored.id] = (stored, memberships.setdefault(stored.id, []))
        else:
            memberships.setdefault(row[0], []).append(
                Membership(group_id, row[_STORED + 1], row[_STORED + 2])
            )
    for _, groups_in in found.values():
        groups_in.sort(key=lambda membership: membership.group_id)
    return [found[user_id] for user_id in sorted(found)]
