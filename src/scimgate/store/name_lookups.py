"""Who holds a name: the user with a userName, a group with a displayName, in any case."""

from sqlalchemy import Connection, bindparam, select

from scimgate.scim.compare import fold
from scimgate.store.column_codec import codec_of
from scimgate.store.encryption import GROUP_NAME_LOOKUP, USER_NAME_LOOKUP
from scimgate.store.resource_tables import GROUPS
from scimgate.store.tables.resources import groups, users

_USER_NAME_HOLDER = (
    select(users.c.id)
    .where(
        users.c.directory_id == bindparam("directory_id"),
        users.c.user_name_key == bindparam("user_name_key"),
    )
    .limit(1)
)
"""Built once: asked before every user is created."""


_USER_NAME_HOLDER_ANY_OF = (
    select(users.c.id)
    .where(
        users.c.directory_id == bindparam("directory_id"),
        users.c.user_name_key.in_(bindparam("user_name_keys", expanding=True)),
    )
    .limit(1)
)
"""With encryption on: the userName's hash under every key (and its plain form, not rotated)."""


def user_name_holder(conn: Connection, directory_id: str, user_name: str) -> str | None:
    """The id of the user whose userName is ``user_name`` in any case, if one holds it.

    With encryption on, during a rotation a userName's row holds its hash under
    the old key or the new one, never both, and every write asks here first
    (writes to a directory take turns), so userName stays unique.
    """
    codec = codec_of(conn)
    keys = codec.lookups(USER_NAME_LOOKUP, directory_id, fold(user_name))
    if codec.sealed:
        return conn.execute(
            _USER_NAME_HOLDER_ANY_OF, {"directory_id": directory_id, "user_name_keys": keys}
        ).scalar()
    [key] = keys
    return conn.execute(
        _USER_NAME_HOLDER, {"directory_id": directory_id, "user_name_key": key}
    ).scalar()


def user_names_held_by_index(conn: Connection) -> bool:
    """Whether the unique index on ``user_name_key`` alone keeps userNames unique.

    Not with encryption on: during a rotation one row holds a userName's hash
    under the old key and a new row would hold it under the new one, so every
    write asks :func:`user_name_holder` first.
    """
    return not codec_of(conn).sealed


def group_named(conn: Connection, directory_id: str, display_name: str) -> str | None:
    """The id of one group of the directory whose displayName is this one in any case."""
    names = codec_of(conn).lookups(GROUP_NAME_LOOKUP, directory_id, fold(display_name))
    return GROUPS.find_id(conn, directory_id, groups.c.display_name_key.in_(names))
