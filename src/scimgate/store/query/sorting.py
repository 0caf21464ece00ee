"""``sortBy`` (RFC 7644 §3.4.2.3) translated to ORDER BY, in the form filters compare."""

from typing import Any

from scim2_models import InvalidValueException
from scim2_models.path import AttributeBinding
from sqlalchemy import ColumnElement, Table, func

from scimgate.store.query.attributes import (
    Operand,
    column_operand,
    document_operand,
    document_path,
    sub_key,
)
from scimgate.store.query.constructs import CodePointOrder, PrimaryValue
from scimgate.store.query.sealed import PLAIN_COLUMNS


class Ordering(list[ColumnElement[Any]]):
    """ORDER BY terms, knowing whether encrypted rows could be sorted that way."""

    def __init__(self, terms: list[ColumnElement[Any]], refused: str | None = None) -> None:
        super().__init__(terms)
        self.refused = refused
        """The sortBy attribute, when its stored values are encrypted with encryption on."""


def check_sortable(order_by: Any) -> None:
    """Refuse a ``sortBy`` that encrypted rows cannot be sorted by."""
    refused = getattr(order_by, "refused", None)
    if refused is not None:
        raise InvalidValueException(
            detail=f"sortBy: cannot sort on {refused} while encryption at rest is on (its "
            "stored values are encrypted); sort on id, meta.created or meta.lastModified, "
            "or leave sortBy out"
        )


def sort_key(table: Table, binding: AttributeBinding) -> ColumnElement[Any]:
    """The expression to order by for ``sortBy``, in the form comparisons use.

    A multi-valued attribute sorts by its primary value, or else its first one
    (RFC 7644 §3.4.2.3).
    """
    column = column_operand(table, binding)
    if column is not None:
        return _ordered(column)
    if binding.field_name in ("groups", "members") and binding.is_multivalued:
        raise InvalidValueException(detail=f"sortBy: cannot sort on {binding.urn}")
    if binding.is_multivalued:
        return _primary_value(table, binding)
    return _ordered(document_operand(table.c.doc, binding))


def ordering(table: Table, binding: AttributeBinding | None, *, descending: bool) -> Ordering:
    """ORDER BY for a page: ``sortBy`` then id, missing values last (first when descending).

    Without ``sortBy`` pages come in id order, which is creation order (UUIDv7).
    """
    if binding is None:
        return Ordering([table.c.id])
    key = sort_key(table, binding)
    sortable = (binding.field_name, binding.sub_field_name) in PLAIN_COLUMNS
    refused = None if sortable else str(binding.urn)
    if descending:
        return Ordering([key.is_(None).desc(), key.desc(), table.c.id.desc()], refused)
    return Ordering([key.is_(None), key, table.c.id], refused)


def _ordered(operand: Operand) -> ColumnElement[Any]:
    if operand.kind != "text":
        return operand.expression
    folded = (
        operand.expression
        if operand.case_exact or operand.folded
        else func.scim_fold(operand.expression)
    )
    return CodePointOrder(folded)


def _primary_value(table: Table, binding: AttributeBinding) -> ColumnElement[Any]:
    sub = sub_key(binding) or "value"
    value = PrimaryValue(table.c.doc, document_path(binding), sub)
    return _ordered(Operand(value, "text", binding.case_exact))
