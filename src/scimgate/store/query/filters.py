"""SCIM filters (RFC 7644 §3.4.2.2) translated to SQL, for SQLite and PostgreSQL.

The filter arrives parsed and checked by scim2-models; this module walks its
tree and builds one SQLAlchemy boolean expression, so that the database, not
Python, finds the matching resources. The translation matches
``ScimFilter.match`` (the in-memory reference):

- strings compare through ``scim_fold`` (NFC + lower case) unless the attribute
  is ``caseExact``; ordering compares code points (``COLLATE "C"`` on PostgreSQL);
- an absent attribute makes every comparison false except ``ne``;
- a comparison on a multi-valued attribute holds when one of its values does,
  and ``ne`` when none is equal;
- a comparison on an absent attribute is SQL's unknown, which ``and``, ``or``
  and ``WHERE`` read as false, and a negation makes it false first, so ``not``
  means "not".

Attributes are read where ``attributes`` says they live; membership-derived
attributes (a user's ``groups``, a group's ``members``) become correlated
EXISTS over the membership rows (``membership``). Values are always bound
parameters.
"""

from collections.abc import Callable
from inspect import isclass
from typing import Any

from scim2_models import BaseModel, InvalidFilterException, ScimFilter
from scim2_models.path import (
    AttributeBinding,
    AttrPath,
    CompareOperator,
    Comparison,
    Present,
    ValuePath,
)
from sqlalchemy import ColumnElement, Table, false, literal, or_
from sqlalchemy.sql.elements import Grouping

from scimgate.scim.compare import fold
from scimgate.store.query.attributes import (
    MEMBERSHIP_ATTRIBUTE,
    Operand,
    column_operand,
    document_operand,
    document_path,
    json_key,
    json_kind_of,
    kind_of,
    sub_key,
)
from scimgate.store.query.conditions import (
    INT64,
    SqlTranslator,
    coerced,
    compare,
    negated,
    present,
)
from scimgate.store.query.constructs import AnyElement, JsonValue
from scimgate.store.query.membership import MembershipTranslator, membership_exists


class FilterClause(Grouping[bool]):
    """A translated filter that remembers its source, to be translated again with encryption on.

    It compiles to its plain translation in parentheses (and caches like it), so a
    database without encryption gets the same plan as if it were not there. A
    grouping, not a column element of its own: SQLite would compare one of those
    with 1, which no index can serve.
    """

    inherit_cache = True

    def __init__(
        self, clause: ColumnElement[bool], table: Table, scim_filter: ScimFilter[Any]
    ) -> None:
        super().__init__(clause)
        self.table = table
        self.scim_filter = scim_filter


Condition = ColumnElement[bool]
"""A filter's SQL condition: outside the store, a value taken from :func:`filter_clause`
and handed to a table's reads, never looked into."""


def filter_clause(table: Table, scim_filter: ScimFilter[Any]) -> Condition:
    """The SQL condition of a filter bound to the model stored in ``table``."""
    model = scim_filter.model
    if model is None:
        raise InvalidFilterException(detail="the filter is not bound to a resource type")
    translator = FilterTranslator(table, model, scim_filter)
    return FilterClause(translator.visit(scim_filter.ast), table, scim_filter)


class FilterTranslator(SqlTranslator):
    """Translate a filter over the resources of one table.

    ``scim_filter`` is the filter being translated, bound to ``model``: its
    attribute paths are resolved through it.
    """

    def __init__(self, table: Table, model: type[BaseModel], scim_filter: ScimFilter[Any]) -> None:
        self.table = table
        self.model = model
        self.scim_filter = scim_filter

    def visit_present(self, node: Present) -> ColumnElement[bool]:
        binding = self._resolve_or_none(node.attr_path, for_comparison=False)
        if binding is None:
            return false()
        if binding.field_name == MEMBERSHIP_ATTRIBUTE.get(self.table.name):
            return membership_exists(self.table, binding, lambda _: literal(True))
        if binding.is_multivalued:
            sub = sub_key(binding)
            path = document_path(binding)
            return AnyElement(
                self.table.c.doc,
                path,
                lambda element: (
                    present(JsonValue(element, (sub,), "text")) if sub else _present_json(element)
                ),
            )
        column = column_operand(self.table, binding)
        if column is not None:
            return present(column.expression) if column.kind == "text" else _not_null(column)
        if isclass(binding.target_type) and issubclass(binding.target_type, BaseModel):
            return _present_complex(self.table.c.doc, binding)
        operand = document_operand(self.table.c.doc, binding)
        return present(operand.expression) if operand.kind == "text" else _not_null(operand)

    def visit_comparison(self, node: Comparison) -> ColumnElement[bool]:
        binding = self._resolve_or_none(node.attr_path, for_comparison=True)
        if binding is None:
            return false()
        value = coerced(binding, node.value, node.op)
        if binding.field_name == "meta" and binding.sub_field_name == "resource_type":
            return _constant(self.model.__name__.split("[")[0], value, node.op)
        if binding.field_name == "meta" and binding.sub_field_name == "version":
            return _version(self.table, value, node.op)
        if binding.field_name == MEMBERSHIP_ATTRIBUTE.get(self.table.name):
            return self._membership_comparison(binding, node.op, value)
        if binding.is_multivalued:
            return self._any_value(binding, node.op, value)
        column = column_operand(self.table, binding)
        operand = column or document_operand(self.table.c.doc, binding)
        return compare(operand, node.op, value)

    def visit_value_path(self, node: ValuePath) -> ColumnElement[bool]:
        binding = self._resolve_or_none(node.attr_path, for_comparison=False)
        if binding is None:
            return false()
        if binding.field_name == MEMBERSHIP_ATTRIBUTE.get(self.table.name):
            inner = MembershipTranslator(self.table)
            return membership_exists(self.table, binding, lambda row: inner.visit(node.val_filter))
        item = binding.field_type
        if not (isclass(item) and issubclass(item, BaseModel)):
            raise InvalidFilterException(
                detail=f"{node.attr_path} holds no sub-attributes to filter on"
            )
        return AnyElement(
            self.table.c.doc,
            document_path(binding),
            lambda element: _ElementTranslator(element, item).visit(node.val_filter),
        )

    def _resolve_or_none(
        self, attr_path: AttrPath, *, for_comparison: bool
    ) -> AttributeBinding | None:
        """None for an attribute this type lacks (false, as RFC 7644 §3.4.2.1 says for /.search)."""
        if for_comparison:
            return self.scim_filter.resolve_comparison(attr_path, strict=False)
        return self.scim_filter.resolve(attr_path, strict=False)

    def _any_value(
        self, binding: AttributeBinding, op: CompareOperator, value: Any
    ) -> ColumnElement[bool]:
        sub = sub_key(binding)
        kind = kind_of(binding.target_type)
        json_kind = json_kind_of(kind)

        def element_operand(element: ColumnElement[Any]) -> Operand:
            path = (sub,) if sub else ()
            return Operand(JsonValue(element, path, json_kind), kind, binding.case_exact)

        document = self.table.c.doc
        path = document_path(binding)
        if op == CompareOperator.ne:
            equal = AnyElement(
                document, path, lambda e: compare(element_operand(e), CompareOperator.eq, value)
            )
            return negated(equal)
        return AnyElement(document, path, lambda e: compare(element_operand(e), op, value))

    def _membership_comparison(
        self, binding: AttributeBinding, op: CompareOperator, value: Any
    ) -> ColumnElement[bool]:
        inner = MembershipTranslator(self.table)
        sub = (binding.sub_field_name or "value").lower()
        if op == CompareOperator.ne:
            equal = membership_exists(
                self.table,
                binding,
                lambda _: compare(inner.operand(sub), CompareOperator.eq, value),
            )
            return negated(equal)
        return membership_exists(
            self.table, binding, lambda _: compare(inner.operand(sub), op, value)
        )


class _ElementTranslator(SqlTranslator):
    """Translate the filter of a value path against one element of a JSON array."""

    def __init__(self, element: ColumnElement[Any], item: type[BaseModel]) -> None:
        self.element = element
        self.item = item

    def _operand(self, attr_path: AttrPath) -> tuple[Operand, AttributeBinding] | None:
        binding = _resolve_sub_attribute(self.item, attr_path)
        if binding is None:
            return None
        kind = kind_of(binding.target_type)
        json_kind = json_kind_of(kind)
        key = json_key(self.item, binding.field_name)
        return Operand(
            JsonValue(self.element, (key,), json_kind), kind, binding.case_exact
        ), binding

    def visit_comparison(self, node: Comparison) -> ColumnElement[bool]:
        found = self._operand(node.attr_path)
        if found is None:
            return false()
        operand, binding = found
        return compare(operand, node.op, coerced(binding, node.value, node.op))

    def visit_present(self, node: Present) -> ColumnElement[bool]:
        found = self._operand(node.attr_path)
        if found is None:
            return false()
        operand, _ = found
        return present(operand.expression) if operand.kind == "text" else _not_null(operand)


def _resolve_sub_attribute(item: type[BaseModel], attr_path: AttrPath) -> AttributeBinding | None:
    """The attribute of ``item`` a value path's filter names, or None when it has none.

    The one use of a private scim2-models function, kept here so that nothing else
    depends on its name; with ``strict=False`` it neither raises nor follows the
    ``value`` convention of comparisons. Its public resolvers
    (``ScimFilter.resolve``, ``Path.resolve``) resolve against resource types,
    or reparse a path's text; none takes the complex type of a multi-valued
    attribute (``Email``, ``GroupMember``…) with an already parsed path. A
    public resolver taking a model and an ``AttrPath`` would replace this import.
    """
    from scim2_models.path.resolution import _resolve_filter_path

    return _resolve_filter_path(item, attr_path, strict=False)


def _not_null(operand: Operand) -> ColumnElement[bool]:
    return operand.expression.is_not(None)


def _present_json(element: ColumnElement[Any]) -> ColumnElement[bool]:
    return element.is_not(None)


def _present_complex(
    document: ColumnElement[Any], binding: AttributeBinding
) -> ColumnElement[bool]:
    """A complex attribute is present when one of its sub-attributes is."""
    item = binding.field_type
    assert isclass(item) and issubclass(item, BaseModel)
    path = document_path(binding)
    checks = []
    for field_name in item.model_fields:
        kind = kind_of(item.get_field_root_type(field_name))
        value = JsonValue(document, (*path, json_key(item, field_name)), "text")
        checks.append(present(value) if kind == "text" else value.is_not(None))
    return or_(*checks) if checks else false()


def _constant(actual: str, value: Any, op: CompareOperator) -> ColumnElement[bool]:
    """A comparison whose left side is known in Python (``meta.resourceType``)."""
    return literal(_python_compare(actual, value, op))


def _python_compare(actual: str, value: Any, op: CompareOperator) -> bool:
    if not isinstance(value, str):  # null, or a number or boolean: never equal to a name
        return op == CompareOperator.ne
    left, right = fold(actual), fold(value)
    tests: dict[CompareOperator, Callable[[Any, Any], bool]] = {
        CompareOperator.eq: lambda a, b: a == b,
        CompareOperator.ne: lambda a, b: a != b,
        CompareOperator.co: lambda a, b: b in a,
        CompareOperator.sw: lambda a, b: a.startswith(b),
        CompareOperator.ew: lambda a, b: a.endswith(b),
        CompareOperator.gt: lambda a, b: a > b,
        CompareOperator.ge: lambda a, b: a >= b,
        CompareOperator.lt: lambda a, b: a < b,
        CompareOperator.le: lambda a, b: a <= b,
    }
    return tests[op](left, right)


def _version(table: Table, value: Any, op: CompareOperator) -> ColumnElement[bool]:
    if op not in (CompareOperator.eq, CompareOperator.ne) or not isinstance(value, str):
        raise InvalidFilterException(detail="meta.version can only be compared with eq or ne")
    digits = value.removeprefix("W/").strip('"')
    number = int(digits) if digits.isascii() and digits.isdigit() else None
    # No version is out of the column's range: comparing with one would overflow it.
    equal = table.c.version == number if number is not None and number in INT64 else false()
    return equal if op == CompareOperator.eq else negated(equal)
