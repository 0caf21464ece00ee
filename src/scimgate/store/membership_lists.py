"""Memberships as resources list them: a group's members, and the groups a member is in.

With encryption at rest on, the names read from member rows, users and groups
are decrypted here.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    bindparam,
    func,
    literal,
    select,
    union_all,
)

from scimgate.records import frozen
from scimgate.store.batches import batches
from scimgate.store.by_ids import ByIds, by_ids
from scimgate.store.column_codec import ColumnCodec, codec_of
from scimgate.store.memberships import DISPLAY, member_row_id
from scimgate.store.tables.resources import group_members, groups, users


@frozen
class Member:
    """A member of a group as the group lists it."""

    id: str
    type: str
    display: str | None


@frozen
class Membership:
    """A group a user belongs to, as the user lists it."""

    group_id: str
    display: str
    external_id: str | None = None
    """The IdP's id for the group."""


def members_of(conn: Connection, directory_id: str, group_id: str) -> list[Member]:
    """Every member of a group with the name it displays, in a stable order."""
    codec = codec_of(conn)
    if codec.sealed:
        return _sealed_members_of(conn, codec, directory_id, group_id)
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


def shown_name(
    codec: ColumnCodec,
    directory_id: str,
    group_id: str,
    member_id: str,
    display: str | None,
    *,
    user_display_name: str | None,
    user_name: str | None,
    group_display_name: str | None,
) -> str | None:
    """The name a member shows, from encrypted columns: its own display, else the member's name.

    What ``coalesce(display, displayName, userName, group displayName)`` gives on plain rows.
    """
    if display is not None:
        return codec.open(display, DISPLAY, directory_id, member_row_id(group_id, member_id))
    for value, place in (
        (user_display_name, "users.display_name"),
        (user_name, "users.user_name"),
        (group_display_name, "groups.display_name"),
    ):
        if value is not None:
            return codec.open(value, place, directory_id, member_id)
    return None


def _sealed_members_of(
    conn: Connection, codec: ColumnCodec, directory_id: str, group_id: str
) -> list[Member]:
    """``members_of`` over encrypted names: each candidate name read and decrypted apart."""
    gm = group_members.c
    user_members = (
        select(gm.member_id, gm.member_type, gm.display, users.c.display_name, users.c.user_name)
        .join(users, (users.c.id == gm.member_id) & (users.c.directory_id == gm.directory_id))
        .where(gm.directory_id == directory_id, gm.group_id == group_id)
    )
    group_members_ = (
        select(gm.member_id, gm.member_type, gm.display, groups.c.display_name, literal(None))
        .join(groups, (groups.c.id == gm.member_id) & (groups.c.directory_id == gm.directory_id))
        .where(gm.directory_id == directory_id, gm.group_id == group_id)
    )
    rows = conn.execute(union_all(user_members, group_members_))
    members = [
        Member(
            id=member_id,
            type=member_type,
            display=shown_name(
                codec,
                directory_id,
                group_id,
                member_id,
                display,
                user_display_name=display_name if user_name is not None else None,
                user_name=user_name,
                group_display_name=display_name if user_name is None else None,
            ),
        )
        for member_id, member_type, display, display_name, user_name in rows
    ]
    return sorted(members, key=lambda member: member.id)


def _groups_of_members(last: ColumnElement[Any]) -> ByIds[Select[Any]]:
    """Each member's groups in member, then group order: id, displayName and ``last``."""
    return by_ids(
        lambda member_ids: (
            select(group_members.c.member_id, groups.c.id, groups.c.display_name, last)
            .join(groups, groups.c.id == group_members.c.group_id)
            .where(group_members.c.directory_id == bindparam("directory_id"), member_ids)
            .order_by(group_members.c.member_id, groups.c.id)
        ),
        group_members.c.member_id,
        "member_ids",
    )


_GROUPS_OF = _groups_of_members(groups.c.external_id)
"""Built once: read with every user answered or changed."""


def groups_of(
    conn: Connection, directory_id: str, member_ids_: Sequence[str]
) -> dict[str, list[Membership]]:
    """The groups each of these members belongs to directly, keyed by member id."""
    found: dict[str, list[Membership]] = {member_id: [] for member_id in member_ids_}
    if not member_ids_:
        return found
    codec = codec_of(conn)
    if codec.sealed:
        return _sealed_groups_of(conn, codec, directory_id, found)
    for batch in batches(member_ids_):
        rows = _GROUPS_OF.run(conn, batch, {"directory_id": directory_id})
        for member_id, group_id, display, external_id in rows:
            found[member_id].append(Membership(group_id, display, external_id))
    return found


_SEALED_GROUPS_OF = _groups_of_members(groups.c.doc)
"""With encryption on: the group's externalId is only in its (encrypted) document."""


def _sealed_groups_of(
    conn: Connection, codec: ColumnCodec, directory_id: str, found: dict[str, list[Membership]]
) -> dict[str, list[Membership]]:
    opened: dict[str, tuple[str, Any]] = {}
    for batch in batches(list(found)):
        rows = _SEALED_GROUPS_OF.run(conn, batch, {"directory_id": directory_id})
        for member_id, group_id, display, doc in rows:
            if group_id not in opened:
                name = codec.open(display, "groups.display_name", directory_id, group_id)
                document = codec.open_document(doc, "groups.doc", directory_id, group_id)
                opened[group_id] = (name, document.get("externalId"))
            name, external_id = opened[group_id]
            found[member_id].append(Membership(group_id, name, external_id))
    return found
