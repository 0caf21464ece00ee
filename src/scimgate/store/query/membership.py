"""Membership-derived attributes: a user's ``groups``, a group's ``members``.

They are not in the stored document but in the membership rows, so a filter on
them becomes a correlated EXISTS over those rows, joined to the groups (and, for
a group's members, the users and groups) their names come from.
"""

from collections.abc import Callable
from typing import Any

from scim2_models import InvalidFilterException
from scim2_models.path import AttributeBinding, AttrPath, Comparison, Present
from sqlalchemy import ColumnElement, Table, and_, exists, func, literal, select

from scimgate.store.query.attributes import Operand
from scimgate.store.query.conditions import SqlTranslator, compare, present
from scimgate.store.tables.resources import group_members, groups, users

_member_user = users.alias("scim_member_user")
_member_group = groups.alias("scim_member_group")
_parent_group = groups.alias("scim_parent_group")


def membership_exists(
    table: Table, binding: AttributeBinding, predicate: Callable[[Any], ColumnElement[bool]]
) -> ColumnElement[bool]:
    """EXISTS a membership row of this resource (as member for users, as group for groups)."""
    gm = group_members.c
    if table.name == "users":
        query = (
            select(literal(1))
            .select_from(
                group_members.join(
                    _parent_group,
                    and_(
                        _parent_group.c.id == gm.group_id,
                        _parent_group.c.directory_id == gm.directory_id,
                    ),
                )
            )
            .where(gm.directory_id == table.c.directory_id, gm.member_id == table.c.id)
        )
    else:
        query = (
            select(literal(1))
            .select_from(
                group_members.outerjoin(
                    _member_user,
                    and_(
                        _member_user.c.id == gm.member_id,
                        _member_user.c.directory_id == gm.directory_id,
                    ),
                ).outerjoin(
                    _member_group,
                    and_(
                        _member_group.c.id == gm.member_id,
                        _member_group.c.directory_id == gm.directory_id,
                    ),
                )
            )
            .where(gm.directory_id == table.c.directory_id, gm.group_id == table.c.id)
        )
    return exists(query.where(predicate(None)))


class MembershipTranslator(SqlTranslator):
    """Translate a filter over the sub-attributes of ``groups`` (users) or ``members`` (groups)."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def operand(self, sub: str) -> Operand:
        gm = group_members.c
        if self.table.name == "users":
            if sub == "value":
                return Operand(gm.group_id, "text", True)
            if sub == "display":
                return Operand(_parent_group.c.display_name_key, "text", False, folded=True)
            if sub == "type":
                return Operand(literal("direct"), "text", False)
        else:
            if sub == "value":
                return Operand(gm.member_id, "text", True)
            if sub == "type":
                return Operand(gm.member_type, "text", False)
            if sub == "display":
                display = func.coalesce(
                    gm.display,
                    _member_user.c.display_name,
                    _member_user.c.user_name,
                    _member_group.c.display_name,
                )
                return Operand(display, "text", False)
        raise InvalidFilterException(detail=f"cannot filter on the sub-attribute {sub!r} here")

    def _sub(self, attr_path: AttrPath) -> str:
        return attr_path.attr.lower()

    def visit_comparison(self, node: Comparison) -> ColumnElement[bool]:
        return compare(self.operand(self._sub(node.attr_path)), node.op, node.value)

    def visit_present(self, node: Present) -> ColumnElement[bool]:
        return present(self.operand(self._sub(node.attr_path)).expression)
