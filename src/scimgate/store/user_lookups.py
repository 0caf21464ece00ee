"""A lookup of users by an indexed key, with the groups each is in, in one statement.

IdPs look a user up by ``userName`` or ``externalId`` before every change they
send. The page that answers lists each user found with its groups; read apart,
that was the key's indexed query, then the memberships of the users it found.
Here both come from one ``UNION ALL``, built once per key column: the key's own
indexed query, then the found users' groups as the statement that reads the
users events are about reads them (``event_subjects.group_rows``), and the rows
are gathered as that statement's are.
"""

from typing import Any

from sqlalchemy import ColumnElement, Connection, bindparam, null, select, union_all

from scimgate.store.column_codec import codec_of
from scimgate.store.event_subjects import gathered, group_rows
from scimgate.store.membership_lists import Membership
from scimgate.store.prepared import Prepared
from scimgate.store.resource_tables import USERS
from scimgate.store.stored_resources import StoredResource
from scimgate.store.tables.resources import users


def _statement(column: str) -> Prepared:
    """The users of a directory whose ``column`` holds a value (the first ``limit`` in id
    order), read by the key's index, then their groups: rows laid out as
    ``event_subjects.with_groups`` lays them out, the roles left null."""
    u = users.c
    found = (
        select(*USERS.stored_columns())
        .where(u.directory_id == bindparam("directory_id"), u[column] == bindparam("value"))
        .order_by(u.id)
        .limit(bindparam("limit"))
    )

    def among_found(ids: ColumnElement[Any]) -> ColumnElement[bool]:
        return ids.in_(found.with_only_columns(u.id).correlate(None))

    user_rows = select(*found.subquery().c, null(), null(), null(), null())
    return Prepared(union_all(user_rows, group_rows(among_found)))


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
    parameters = {"directory_id": directory_id, "value": value, "limit": limit}
    found = gathered(directory_id, _BY_COLUMN[column].rows(conn, parameters))
    return [
        (stored, [Membership(*group) for group in groups_in])
        for stored, _, groups_in in (found[user_id] for user_id in sorted(found))
    ]
