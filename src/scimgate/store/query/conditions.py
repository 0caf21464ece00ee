"""What every translation is made of: one value compared, presence, negation, and/or.

A comparison is unknown (SQL NULL) where its attribute is absent, which ``and``,
``or`` and ``WHERE`` read as false; ``negated`` makes it false before negating,
so ``not`` means "not". ``SqlTranslator`` is the base of the filter translators:
the logical operators, and no value path nested in another.
"""

import math
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from scim2_models import InvalidFilterException
from scim2_models.path import (
    AttributeBinding,
    CompareOperator,
    FilterVisitor,
    LogicalExpr,
    LogicalOperator,
    Not,
    ValuePath,
    coerce_value,
)
from sqlalchemy import ColumnElement, and_, false, func, literal, not_, or_
from sqlalchemy.types import Boolean

from scimgate.scim.compare import fold
from scimgate.scim.instants import rfc3339
from scimgate.store.query.attributes import Operand
from scimgate.store.query.constructs import CodePointOrder, Contains, JsonValue


class SqlTranslator(FilterVisitor[ColumnElement[bool]]):
    """What every translation shares: the logical operators, and no nested value paths."""

    def visit_logical_expr(self, node: LogicalExpr) -> ColumnElement[bool]:
        terms = [self.visit(term) for term in node.terms]
        return and_(*terms) if node.op == LogicalOperator.and_ else or_(*terms)

    def visit_not(self, node: Not) -> ColumnElement[bool]:
        return negated(self.visit(node.expr))

    def visit_value_path(self, node: ValuePath) -> ColumnElement[bool]:
        raise InvalidFilterException(detail="a value path cannot be nested in another")


def negated(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """``not condition``, where SQL's unknown (a NULL operand) counts as false.

    Under ``and`` and ``or``, an unknown leaf is true exactly when the
    two-valued reading is, so leaves stay plain comparisons that indexes can
    serve; only a negation needs the unknown made false first.
    """
    return not_(func.coalesce(condition, false()))


def present(expression: ColumnElement[Any]) -> ColumnElement[bool]:
    """``pr`` on a text value: neither absent nor empty."""
    return and_(expression.is_not(None), expression != "")


INT64 = range(-(2**63), 2**63)
"""The integers both databases compare exactly (SQLite's INTEGER, PostgreSQL's bigint)."""


def coerced(binding: AttributeBinding, raw: Any, op: CompareOperator) -> Any:
    """A filter's value in its attribute's Python type, refusing what no database can compare.

    ``coerce_value`` accepts whatever pydantic does: a dateTime at the edge of the
    calendar whose UTC instant falls outside years 1-9999, a number taken for a
    Unix time, integers beyond 64 bits, ``"NaN"`` and ``"1e309"`` for a decimal.
    Each would fail (or mean something else) once bound to SQL, so each is an
    ``invalidFilter`` here, naming the attribute.
    """
    value = coerce_value(binding, raw, op)
    if isinstance(value, datetime):
        if not isinstance(raw, str):
            raise _out_of_range(
                binding, raw, 'a dateTime is compared with a string such as "2011-05-13T04:42:34Z"'
            )
        try:
            return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        except OverflowError:
            raise _out_of_range(
                binding, raw, "its instant in UTC falls outside years 1 to 9999"
            ) from None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value not in INT64:
        raise _out_of_range(binding, raw, "integers are compared within -2^63 .. 2^63-1")
    if isinstance(value, float | Decimal) and not math.isfinite(value):
        raise _out_of_range(binding, raw, "a number must be finite")
    return value


def _out_of_range(binding: AttributeBinding, raw: Any, reason: str) -> InvalidFilterException:
    shown = raw if not isinstance(raw, str) or len(raw) <= 64 else raw[:64] + "…"
    return InvalidFilterException(
        detail=f"value {shown!r} cannot be compared with {binding.urn}: {reason}"
    )


def compare(operand: Operand, op: CompareOperator, value: Any) -> ColumnElement[bool]:
    """One comparison of a single value, as ``_compare`` of scim2-models does it.

    The result is unknown (NULL) where the attribute is absent; see ``negated``.
    """
    expression = operand.expression
    if value is None:
        # Only "eq null" / "ne null" reach here; an absent value equals null.
        condition = expression.is_(None)
        return condition if op == CompareOperator.eq else negated(condition)
    if op == CompareOperator.ne:
        return negated(compare(operand, CompareOperator.eq, value))
    if operand.kind == "text":
        if not isinstance(value, str):
            return false()
        left = expression if operand.case_exact or operand.folded else func.scim_fold(expression)
        right = value if operand.case_exact else fold(value)
        return _text_comparison(left, op, right)
    if operand.kind == "datetime" and isinstance(value, datetime):
        if isinstance(expression, JsonValue):
            stamp = rfc3339(value)
            return _ordering(expression, op, stamp)
        return _ordering(expression, op, value)
    if operand.kind == "bool":
        if not isinstance(value, bool) or op != CompareOperator.eq:
            return false()
        return expression == literal(value, Boolean())
    if (
        operand.kind == "number"
        and isinstance(value, int | float | Decimal)
        and not isinstance(value, bool)
    ):
        if op in (CompareOperator.co, CompareOperator.sw, CompareOperator.ew):
            return false()
        return _ordering(expression, op, value)
    return false()


def _text_comparison(
    left: ColumnElement[Any], op: CompareOperator, right: str
) -> ColumnElement[bool]:
    if op == CompareOperator.co:
        return Contains(left, right)
    if op == CompareOperator.sw:
        return func.substr(left, 1, len(right)) == right
    if op == CompareOperator.ew:
        return and_(
            func.length(left) >= len(right),
            func.substr(left, func.length(left) - len(right) + 1) == right,
        )
    if op == CompareOperator.eq:
        return left == right
    return _ordering(CodePointOrder(left), op, right)


def _ordering(
    expression: ColumnElement[Any], op: CompareOperator, value: Any
) -> ColumnElement[bool]:
    comparisons: dict[CompareOperator, Callable[[Any, Any], ColumnElement[bool]]] = {
        CompareOperator.eq: lambda a, b: a == b,
        CompareOperator.gt: lambda a, b: a > b,
        CompareOperator.ge: lambda a, b: a >= b,
        CompareOperator.lt: lambda a, b: a < b,
        CompareOperator.le: lambda a, b: a <= b,
    }
    return comparisons[op](expression, value)
