"""Group membership rows: one per (group, member), so changing one costs the same at any size.

With encryption at rest on, a member's ``display`` is stored encrypted.
``store/membership_lists.py`` reads memberships back, with names, as resources list them.
"""

from collections.abc import Iterable, Sequence
from dataclasses import field
from typing import Any

from sqlalchemy import (
    Connection,
    bindparam,
    delete,
    literal,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from scimgate.records import frozen
from scimgate.store.batches import batches
from scimgate.store.by_ids import ByIds, IdsCondition, by_ids
from scimgate.store.column_codec import codec_of
from scimgate.store.encryption import Keyring, Resealed, count_keys, key_id_of
from scimgate.store.event_subjects import USERS_WITH_GROUPS, UserWithGroups, gathered
from scimgate.store.prepared import Prepared
from scimgate.store.resource_tables import USERS
from scimgate.store.tables.resources import group_members, users

DISPLAY = "group_members.display"
"""Where an encrypted member display lives (part of its associated data)."""


def member_row_id(group_id: str, member_id: str) -> str:
    """The id an encrypted member display is bound to (part of its associated data)."""
    return f"{group_id}/{member_id}"


@frozen
class NewMember:
    id: str
    type: str
    display: str | None = None
    """The name the client gave the member, kept as sent; None shows the member's own name."""


def add(conn: Connection, directory_id: str, group_id: str, members: Iterable[NewMember]) -> int:
    """Add members; members already present are left as they are.

    Returns how many rows were added.
    """
    codec = codec_of(conn)
    rows = [
        {
            "directory_id": directory_id,
            "group_id": group_id,
            "member_id": member.id,
            "member_type": member.type,
            "display": codec.seal_optional(
                member.display, DISPLAY, directory_id, member_row_id(group_id, member.id)
            ),
        }
        for member in {member.id: member for member in members}.values()
    ]
    if not rows:
        return 0
    return _ADD[conn.dialect.name].execute_each(conn, rows)


_ADD = {
    name: Prepared(
        dialect.insert(group_members).on_conflict_do_nothing(
            index_elements=["group_id", "member_id"]
        ),
        [column.key for column in group_members.c],
    )
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
"""Built once: run by every member added."""


def remove(conn: Connection, directory_id: str, group_id: str, member_ids: Sequence[str]) -> int:
    removed = 0
    for batch in batches(member_ids):
        result = conn.execute(
            delete(group_members).where(
                group_members.c.directory_id == directory_id,
                group_members.c.group_id == group_id,
                group_members.c.member_id.in_(batch),
            )
        )
        removed += result.rowcount
    return removed


def remove_all(conn: Connection, directory_id: str, group_id: str) -> int:
    result = conn.execute(
        delete(group_members).where(
            group_members.c.directory_id == directory_id, group_members.c.group_id == group_id
        )
    )
    return result.rowcount


def remove_member_everywhere(conn: Connection, directory_id: str, member_id: str) -> list[str]:
    """Take a deleted user or group out of every group; returns those groups' ids."""
    group_ids = list(
        conn.execute(
            select(group_members.c.group_id).where(
                group_members.c.directory_id == directory_id,
                group_members.c.member_id == member_id,
            )
        ).scalars()
    )
    conn.execute(
        delete(group_members).where(
            group_members.c.directory_id == directory_id, group_members.c.member_id == member_id
        )
    )
    return group_ids


def member_ids(
    conn: Connection, directory_id: str, group_id: str, among: Sequence[str]
) -> set[str]:
    """Which of these ids are members of the group (one statement per batch of ids)."""
    found: set[str] = set()
    for batch in batches(among):
        rows = _MEMBER_IDS.run(conn, batch, {"directory_id": directory_id, "group_id": group_id})
        found.update(row[0] for row in rows)
    return found


_MEMBER_IDS = by_ids(
    lambda member_ids: select(group_members.c.member_id).where(
        group_members.c.directory_id == bindparam("directory_id"),
        group_members.c.group_id == bindparam("group_id"),
        member_ids,
    ),
    group_members.c.member_id,
    "member_ids",
)
"""Built once: read by every member change."""


@frozen
class Joiners:
    """What a request adding members to a group finds of the ids it names."""

    already: set[str]
    """The group's members already."""

    users: set[str]
    """The directory's users among the others."""

    as_read: dict[str, UserWithGroups] = field(default_factory=dict)
    """On SQLite, unless encryption is on: each of ``users`` as it stood before joining,
    with its roles and groups, read by the same statement (none elsewhere)."""


def already_and_users(
    conn: Connection, directory_id: str, group_id: str, ids: Sequence[str]
) -> Joiners:
    """Of these ids: the group's members already, and the directory's users among the others.

    On PostgreSQL the users found stay locked (``FOR KEY SHARE``) until the
    transaction ends, so that deleting one at the same time either waits and
    then removes the new membership row, or commits first and the user is not
    found: never a membership row for a deleted user. Members already in the
    group are not locked: deleting one locks this group, which the change holds,
    and waiting for each other the two would deadlock. On SQLite a writer holds
    the whole database and nothing needs locking: one statement reads the users
    with their roles and groups (the payloads of their events are built from
    them), and every group each id is in, so which are members already.
    """
    if conn.dialect.name != "sqlite":
        members = member_ids(conn, directory_id, group_id, ids)
        joining = [member_id for member_id in ids if member_id not in members]
        return Joiners(members, USERS.existing_ids(conn, directory_id, joining, lock=True))
    if codec_of(conn).sealed:
        return _sealed_joiners(conn, directory_id, group_id, ids)
    already: set[str] = set()
    read: dict[str, UserWithGroups] = {}
    for batch in batches(ids):
        rows = USERS_WITH_GROUPS.run(conn, batch, {"directory_id": directory_id})
        already.update(row[0] for row in rows if row[7] == group_id)
        read.update(gathered(directory_id, rows))
    as_read = {user_id: found for user_id, found in read.items() if user_id not in already}
    return Joiners(already, set(as_read), as_read)


def _sealed_joiners(
    conn: Connection, directory_id: str, group_id: str, ids: Sequence[str]
) -> Joiners:
    """SQLite with encryption on, where group names are sealed: members and users only."""
    already: set[str] = set()
    found: set[str] = set()
    for batch in batches(ids):
        rows = _ALREADY_OR_USER.run(
            conn, batch, {"directory_id": directory_id, "group_id": group_id}
        )
        for member_id, is_member in rows:
            (already if is_member else found).add(member_id)
    return Joiners(already, found - already)


def _already_or_user(ids: IdsCondition) -> Any:
    gm = group_members.c
    return union_all(
        select(gm.member_id, literal(True)).where(
            gm.directory_id == bindparam("directory_id"),
            gm.group_id == bindparam("group_id"),
            ids(gm.member_id),
        ),
        select(users.c.id, literal(False)).where(
            users.c.directory_id == bindparam("directory_id"), ids(users.c.id)
        ),
    )


_ALREADY_OR_USER = ByIds(_already_or_user, "ids")
"""Built once (SQLite, encryption on): each row an id, and whether it is a member of the
group (else a user of the directory)."""


def reseal(
    conn: Connection, keyring: Keyring, after: tuple[str, str], limit: int
) -> Resealed[tuple[str, str]]:
    """Encrypt up to ``limit`` member displays (after ``after``) under the newest key."""
    gm = group_members.c
    rows = conn.execute(
        select(gm.group_id, gm.member_id, gm.directory_id, gm.display)
        .where(tuple_(gm.group_id, gm.member_id) > tuple_(*after))
        .order_by(gm.group_id, gm.member_id)
        .limit(limit)
        .with_for_update()
    ).all()
    changed = 0
    for group_id, member_id, directory_id, display in rows:
        if display is None or key_id_of(display) == keyring.newest.id:
            continue
        row_id = member_row_id(group_id, member_id)
        plain = keyring.open(display, DISPLAY, directory_id, row_id)
        conn.execute(
            update(group_members)
            .where(gm.group_id == group_id, gm.member_id == member_id)
            .values(display=keyring.seal(plain, DISPLAY, directory_id, row_id))
        )
        changed += 1
    last = (rows[-1].group_id, rows[-1].member_id) if rows else None
    return Resealed(last, changed)


def key_census(conn: Connection) -> dict[str | None, int]:
    """How many member displays each key id protects (None: plain); rows without one not counted."""
    query = select(group_members.c.display).where(group_members.c.display.is_not(None))
    return count_keys(conn.execute(query).scalars())
