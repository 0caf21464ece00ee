"""Filters over encrypted rows (encryption at rest), translated when they meet the connection.

With encryption at rest on, the document and the names are ciphertext, so a
filter is translated again when it meets the connection (``sealed_condition``):
equality on the lookup attributes becomes a keyed-hash lookup, and whatever
would need the plaintext in SQL is refused with ``invalidFilter``.
"""

from typing import Any

from scim2_models import BaseModel, InvalidFilterException, ScimFilter
from scim2_models.path import CompareOperator, Comparison, Present, ValuePath
from sqlalchemy import ColumnElement, Table, exists, false, literal, select

from scimgate.scim.compare import fold
from scimgate.store.encryption import (
    EMAIL_LOOKUP,
    GROUP_EXTERNAL_ID_LOOKUP,
    GROUP_NAME_LOOKUP,
    USER_EXTERNAL_ID_LOOKUP,
    USER_NAME_LOOKUP,
    Keyring,
)
from scimgate.store.query.attributes import MEMBERSHIP_ATTRIBUTE, Operand
from scimgate.store.query.conditions import coerced, compare, negated, present
from scimgate.store.query.filters import FilterClause, FilterTranslator
from scimgate.store.query.membership import MembershipTranslator, membership_exists
from scimgate.store.tables.resources import user_email_hashes, users


def sealed_condition(
    condition: ColumnElement[bool], keyring: Keyring, directory_id: str
) -> ColumnElement[bool]:
    """The condition of a filter over encrypted rows (refusing what they cannot answer)."""
    if not isinstance(condition, FilterClause):
        return condition
    model = condition.scim_filter.model
    assert model is not None
    translator = _SealedTranslator(
        condition.table, model, condition.scim_filter, keyring, directory_id
    )
    return translator.visit(condition.scim_filter.ast)


_SEALED_LOOKUPS: dict[str, dict[tuple[str, str | None], tuple[str, str, bool]]] = {
    # (field, sub field) -> (hash column, what the hash is of, case-exact)
    "users": {
        ("user_name", None): ("user_name_key", USER_NAME_LOOKUP, False),
        ("external_id", None): ("external_id", USER_EXTERNAL_ID_LOOKUP, True),
    },
    "groups": {
        ("display_name", None): ("display_name_key", GROUP_NAME_LOOKUP, False),
        ("external_id", None): ("external_id", GROUP_EXTERNAL_ID_LOOKUP, True),
    },
}

PLAIN_COLUMNS = {("id", None), ("meta", "created"), ("meta", "last_modified")}
"""Attributes kept in plain columns with encryption on: every operator and sortBy work on them."""

_SEALED_ANSWERS = (
    "with encryption at rest on, only eq and ne on userName, externalId, emails.value and "
    "group displayName, pr, and filters on id, active and meta are answered"
)


def _refused(attribute: object, op: str) -> InvalidFilterException:
    return InvalidFilterException(
        detail=f"cannot filter on {attribute} with {op}: its stored values are encrypted "
        f"({_SEALED_ANSWERS})"
    )


class _SealedTranslator(FilterTranslator):
    """Translate a filter over rows whose document and names are encrypted."""

    def __init__(
        self,
        table: Table,
        model: type[BaseModel],
        scim_filter: ScimFilter[Any],
        keyring: Keyring,
        directory_id: str,
    ) -> None:
        super().__init__(table, model, scim_filter)
        self.keyring = keyring
        self.directory_id = directory_id

    def visit_comparison(self, node: Comparison) -> ColumnElement[bool]:
        binding = self._resolve_or_none(node.attr_path, for_comparison=True)
        if binding is None:
            return false()
        where = (binding.field_name, binding.sub_field_name)
        if binding.field_name == "meta" or where in PLAIN_COLUMNS:
            return super().visit_comparison(node)
        if binding.field_name == MEMBERSHIP_ATTRIBUTE.get(self.table.name):
            if (binding.sub_field_name or "value").lower() == "display":
                raise _refused(node.attr_path, node.op.value)
            return super().visit_comparison(node)
        value = coerced(binding, node.value, node.op)
        if self.table.name == "users" and where == ("active", None):
            return compare(Operand(users.c.active, "bool", True), node.op, value)
        if node.op not in (CompareOperator.eq, CompareOperator.ne):
            raise _refused(node.attr_path, node.op.value)
        if self.table.name == "users" and binding.field_name == "emails":
            if binding.sub_field_name not in (None, "value") or not isinstance(value, str):
                raise _refused(node.attr_path, node.op.value)
            return self._equal_or_not(self._email(value), node.op)
        lookup = _SEALED_LOOKUPS[self.table.name].get(where)
        if lookup is None:
            raise _refused(node.attr_path, node.op.value)
        column_name, attribute, case_exact = lookup
        column = self.table.c[column_name]
        if value is None:
            return compare(Operand(column, "text", True), node.op, None)
        if not isinstance(value, str):
            return false()
        compared = value if case_exact else fold(value)
        hashes = self.keyring.lookups(attribute, self.directory_id, compared)
        return self._equal_or_not(column.in_(hashes), node.op)

    def _equal_or_not(self, equal: ColumnElement[bool], op: CompareOperator) -> ColumnElement[bool]:
        return equal if op == CompareOperator.eq else negated(equal)

    def _email(self, value: str) -> ColumnElement[bool]:
        hashes = self.keyring.lookups(EMAIL_LOOKUP, self.directory_id, fold(value), plain=False)
        e = user_email_hashes.c
        return exists(
            select(literal(1)).where(
                e.directory_id == self.table.c.directory_id,
                e.user_id == self.table.c.id,
                e.hash.in_(hashes),
            )
        )

    def visit_present(self, node: Present) -> ColumnElement[bool]:
        binding = self._resolve_or_none(node.attr_path, for_comparison=False)
        if binding is None:
            return false()
        where = (binding.field_name, binding.sub_field_name)
        if binding.field_name == "meta" or where in PLAIN_COLUMNS:
            return super().visit_present(node)
        if binding.field_name == MEMBERSHIP_ATTRIBUTE.get(self.table.name):
            if (binding.sub_field_name or "value").lower() == "display":
                raise _refused(node.attr_path, "pr")
            return super().visit_present(node)
        if self.table.name == "users" and where == ("active", None):
            return users.c.active.is_not(None)
        if self.table.name == "users" and where in (("emails", None), ("emails", "value")):
            e = user_email_hashes.c
            return exists(
                select(literal(1)).where(
                    e.directory_id == self.table.c.directory_id, e.user_id == self.table.c.id
                )
            )
        lookup = _SEALED_LOOKUPS[self.table.name].get(where)
        if lookup is None:
            raise _refused(node.attr_path, "pr")
        return present(self.table.c[lookup[0]])

    def visit_value_path(self, node: ValuePath) -> ColumnElement[bool]:
        binding = self._resolve_or_none(node.attr_path, for_comparison=False)
        if binding is None:
            return false()
        if binding.field_name == MEMBERSHIP_ATTRIBUTE.get(self.table.name):
            inner = _SealedMembershipTranslator(self.table)
            return membership_exists(self.table, binding, lambda row: inner.visit(node.val_filter))
        inner_filter = node.val_filter
        if (
            self.table.name == "users"
            and binding.field_name == "emails"
            and isinstance(inner_filter, Comparison)
            and inner_filter.attr_path.attr.lower() == "value"
            and inner_filter.op == CompareOperator.eq
            and isinstance(inner_filter.value, str)
        ):
            return self._email(inner_filter.value)
        raise InvalidFilterException(
            detail=f"cannot filter on {node.attr_path}[{node.val_filter}]: its stored values "
            f'are encrypted ({_SEALED_ANSWERS}; of value paths, only emails[value eq "…"])'
        )


class _SealedMembershipTranslator(MembershipTranslator):
    """Membership sub-attributes with encryption on: the names are encrypted, ids are not."""

    def operand(self, sub: str) -> Operand:
        if sub == "display":
            raise _refused(f"{MEMBERSHIP_ATTRIBUTE[self.table.name]}.display", "a filter")
        return super().operand(sub)
