"""Group membership rows: one per (group, member), so changing one costs the same at any size."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, delete, func, select, union_all
from sqlalchemy.dialects import postgresql, sqlite

from scimgate.store.tables import group_members, groups, users


@dataclass(frozen=True)
class Member:
    """A member of a group as the group lists it."""

    id: str
    type: str
    display: str | None


@dataclass(frozen=True)
class Membership:
    """A group a user belongs to, as the user lists it."""

    group_id: str
    display: str
    external_id: str | None = None
    """The IdP's id for the group."""


@dataclass(frozen=True)
class NewMember:
    id: str
    type: str
    display: str | None = None
    """The name the client gave the member, kept as sent; None shows the member's own name."""


def add(conn: Connection, directory_id: str, group_id: str, members: Iterable[NewMember]) -> int:
    """Add members; members already present are left as they are.

    Returns how many rows were added.
    """
    rows = [
        {
            "directory_id": directory_id,
            "group_id": group_id,
            "member_id": member.id,
            "member_type": member.type,
            "display": member.display,
        }
        for member in {member.id: member for member in members}.values()
    ]
    if not rows:
        return 0
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(group_members).on_conflict_do_nothing(
        index_elements=["group_id", "member_id"]
    )
    return conn.execute(statement, rows).rowcount or 0


def remove(conn: Connection, directory_id: str, group_id: str, member_ids: Sequence[str]) -> int:
    if not member_ids:
        return 0
    result = conn.execute(
        delete(group_members).where(
            group_members.c.directory_id == directory_id,
            group_members.c.group_id == group_id,
            group_members.c.member_id.in_(member_ids),
        )
    )
    return result.rowcount


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


def members_of(conn: Connection, directory_id: str, group_id: str) -> list[Member]:
    """Every member of a group with the name it displays, in a stable order."""
    gm = group_members.c
    user_members = (
        select(
            gm.member_id,
            gm.member_type,
            func.coalesce(gm.display, users.c.display_name, users.c.user_name),
        )
        .join(users, (users.c.id == gm.member_id) & (users.c.directory_id == gm.directory_id))
        .where(gm.directory_id == directory_id, gm.group_id == group_id)
    )
    group_members_ = (
        select(gm.member_id, gm.member_type, func.coalesce(gm.display, groups.c.display_name))
        .join(groups, (groups.c.id == gm.member_id) & (groups.c.directory_id == gm.directory_id))
        .where(gm.directory_id == directory_id, gm.group_id == group_id)
    )
    rows = conn.execute(union_all(user_members, group_members_))
    members = [Member(id=r[0], type=r[1], display=r[2]) for r in rows]
    return sorted(members, key=lambda member: member.id)


def member_ids(
    conn: Connection, directory_id: str, group_id: str, among: Sequence[str]
) -> set[str]:
    """Which of these ids are members of the group."""
    if not among:
        return set()
    rows = conn.execute(
        select(group_members.c.member_id).where(
            group_members.c.directory_id == directory_id,
            group_members.c.group_id == group_id,
            group_members.c.member_id.in_(among),
        )
    )
    return set(rows.scalars())


_GROUPS_OF = (
    select(group_members.c.member_id, groups.c.id, groups.c.display_name, groups.c.external_id)
    .join(groups, groups.c.id == group_members.c.group_id)
    .where(
        group_members.c.directory_id == bindparam("directory_id"),
        group_members.c.member_id.in_(bindparam("member_ids", expanding=True)),
    )
    .order_by(group_members.c.member_id, groups.c.id)
)
"""Built once: read with every user answered or changed."""


def groups_of(
    conn: Connection, directory_id: str, member_ids_: Sequence[str]
) -> dict[str, list[Membership]]:
    """The groups each of these members belongs to directly, keyed by member id."""
    found: dict[str, list[Membership]] = {member_id: [] for member_id in member_ids_}
    if not member_ids_:
        return found
    rows = conn.execute(_GROUPS_OF, {"directory_id": directory_id, "member_ids": list(member_ids_)})
    for member_id, group_id, display, external_id in rows:
        found[member_id].append(Membership(group_id, display, external_id))
    return found
