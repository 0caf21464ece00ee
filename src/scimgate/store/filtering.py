"""SCIM filters (RFC 7644 §3.4.2.2) and ``sortBy`` translated to SQL, for SQLite and PostgreSQL.

The filter arrives parsed and checked by scim2-models; this module walks its
tree and builds one SQLAlchemy boolean expression, so that the database, not
Python, finds the matching resources. The translation matches
``ScimFilter.match`` (the in-memory reference):

- strings compare through ``scim_fold`` (NFC + lower case) unless the attribute
  is ``caseExact``; ordering compares code points (``COLLATE "C"`` on PostgreSQL);
- an absent attribute makes every comparison false except ``ne``;
- a comparison on a multi-valued attribute holds when one of its values does,
  and ``ne`` when none is equal;
- every leaf is two-valued (never SQL NULL), so ``not`` means "not".

Attributes the service keeps in columns use them (``userName`` through its
folded, uniquely indexed key, ``externalId``, group ``displayName``, ``id``,
``meta``), so that the lookups identity providers make are index lookups.
Membership-derived attributes (a user's ``groups``, a group's ``members``)
become correlated EXISTS over the membership rows. Everything else is read from
the stored document. JSON paths are built from the names the models declare,
never from the request's spelling, and values are always bound parameters.

With encryption at rest on, the document and the names are ciphertext, so a
filter is translated again when it meets the connection (``sealed_condition``):
equality on the lookup attributes becomes a keyed-hash lookup, and whatever
would need the plaintext in SQL is refused with ``invalidFilter``.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from inspect import isclass
from itertools import count
from typing import Any

from scim2_models import (
    BaseModel,
    Extension,
    InvalidFilterException,
    InvalidValueException,
    ScimFilter,
)
from scim2_models.path import (
    AttributeBinding,
    AttrPath,
    CompareOperator,
    Comparison,
    FilterVisitor,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
    coerce_value,
)
from scim2_models.path.resolution import _resolve_filter_path
from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    exists,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import Grouping
from sqlalchemy.types import Boolean, Numeric, String, TypeEngine

from scimgate.scim.compare import fold
from scimgate.store.encryption import (
    EMAIL_LOOKUP,
    GROUP_EXTERNAL_ID_LOOKUP,
    GROUP_NAME_LOOKUP,
    USER_EXTERNAL_ID_LOOKUP,
    USER_NAME_LOOKUP,
    Keyring,
)
from scimgate.store.tables import group_members, groups, user_email_hashes, users

# --- Dialect-specific SQL ---------------------------------------------------------


class JsonValue(ColumnElement[Any]):
    """The value at a path inside a JSON document, typed for comparison.

    SQLite's ``json_extract`` returns native values (booleans as 0/1); on
    PostgreSQL the text at the path is cast to the attribute's type.
    """

    inherit_cache = False

    def __init__(self, document: ColumnElement[Any], path: tuple[str, ...], kind: str) -> None:
        self.document = document
        self.path = path
        self.kind = kind
        types: dict[str, TypeEngine[Any]] = {"bool": Boolean(), "number": Numeric()}
        self.type = types.get(kind, String())


def _quoted_key(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def sqlite_json_path(keys: tuple[str, ...]) -> str:
    return "$" + "".join("." + _quoted_key(key) for key in keys)


def _postgresql_path(keys: tuple[str, ...]) -> str:
    return "{" + ",".join(_quoted_key(key) for key in keys) + "}"


def _postgresql_array(document: str, keys: tuple[str, ...]) -> str:
    """The array at a path, or an empty one: ``jsonb_array_elements`` refuses anything else."""
    path = _postgresql_path(keys)
    return (
        f"CASE WHEN jsonb_typeof({document} #> '{path}') = 'array' "
        f"THEN {document} #> '{path}' ELSE '[]'::jsonb END"
    )


@compiles(JsonValue, "sqlite")
def _json_value_sqlite(element: JsonValue, compiler: SQLCompiler, **kw: Any) -> str:
    document = compiler.process(element.document, **kw)
    if not element.path:  # an element of ``json_each``: already an SQL value
        return document
    return f"json_extract({document}, '{sqlite_json_path(element.path)}')"


@compiles(JsonValue, "postgresql")
def _json_value_postgresql(element: JsonValue, compiler: SQLCompiler, **kw: Any) -> str:
    path = _postgresql_path(element.path)
    text = f"({compiler.process(element.document, **kw)} #>> '{path}')"
    casts = {"bool": "::boolean", "number": "::numeric"}
    return f"{text}{casts.get(element.kind, '')}"


class AnyElement(ColumnElement[bool]):
    """EXISTS an element of a JSON array in the document meeting a predicate.

    ``predicate`` is built against ``element`` (the array element, as JSON).
    """

    inherit_cache = False
    type = Boolean()
    _aliases = count()

    def __init__(
        self,
        document: ColumnElement[Any],
        path: tuple[str, ...],
        predicate: Callable[[ColumnElement[Any]], ColumnElement[bool]],
    ) -> None:
        self.document = document
        self.path = path
        self.alias = f"scim_element_{next(self._aliases)}"
        self.predicate = predicate(literal_column(f"{self.alias}.value"))


@compiles(AnyElement, "sqlite")
def _any_element_sqlite(element: AnyElement, compiler: SQLCompiler, **kw: Any) -> str:
    path = sqlite_json_path(element.path)
    return (
        f"EXISTS (SELECT 1 FROM json_each({compiler.process(element.document, **kw)}, '{path}') "
        f"AS {element.alias} WHERE {compiler.process(element.predicate, **kw)})"
    )


@compiles(AnyElement, "postgresql")
def _any_element_postgresql(element: AnyElement, compiler: SQLCompiler, **kw: Any) -> str:
    array = _postgresql_array(compiler.process(element.document, **kw), element.path)
    return (
        f"EXISTS (SELECT 1 FROM jsonb_array_elements({array}) "
        f"AS {element.alias}(value) WHERE {compiler.process(element.predicate, **kw)})"
    )


class PrimaryValue(ColumnElement[Any]):
    """A sub-attribute of the primary entry of a JSON array, else of its first entry."""

    inherit_cache = False
    type = String()

    def __init__(self, document: ColumnElement[Any], path: tuple[str, ...], sub: str) -> None:
        self.document = document
        self.path = path
        self.sub = sub


@compiles(PrimaryValue, "sqlite")
def _primary_value_sqlite(element: PrimaryValue, compiler: SQLCompiler, **kw: Any) -> str:
    path = sqlite_json_path(element.path)
    sub = sqlite_json_path((element.sub,))
    return (
        f"(SELECT json_extract(e.value, '{sub}') "
        f"FROM json_each({compiler.process(element.document, **kw)}, '{path}') AS e "
        f"ORDER BY CASE WHEN json_extract(e.value, '$.\"primary\"') = 1 THEN 0 ELSE 1 END, "
        f"e.key LIMIT 1)"
    )


@compiles(PrimaryValue, "postgresql")
def _primary_value_postgresql(element: PrimaryValue, compiler: SQLCompiler, **kw: Any) -> str:
    array = _postgresql_array(compiler.process(element.document, **kw), element.path)
    return (
        f"(SELECT e.value #>> '{_postgresql_path((element.sub,))}' "
        f"FROM jsonb_array_elements({array}) WITH ORDINALITY AS e(value, n) "
        f"ORDER BY CASE WHEN (e.value #>> '{{primary}}') = 'true' THEN 0 ELSE 1 END, e.n LIMIT 1)"
    )


class CodePointOrder(ColumnElement[Any]):
    """A string ordered by code point, as Python orders strings."""

    inherit_cache = False

    def __init__(self, inner: ColumnElement[Any]) -> None:
        self.inner = inner
        self.type = inner.type


@compiles(CodePointOrder, "sqlite")
def _code_point_sqlite(element: CodePointOrder, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.inner, **kw)  # BINARY collation: UTF-8 byte order


@compiles(CodePointOrder, "postgresql")
def _code_point_postgresql(element: CodePointOrder, compiler: SQLCompiler, **kw: Any) -> str:
    return f'({compiler.process(element.inner, **kw)} COLLATE "C")'


# --- Where an attribute lives -----------------------------------------------------


@dataclass(frozen=True)
class Operand:
    """A single-valued thing to compare: an SQL expression and how it compares."""

    expression: ColumnElement[Any]
    kind: str
    """``text``, ``bool``, ``number`` or ``datetime``."""

    case_exact: bool
    folded: bool = False
    """The expression already holds the comparison form (a ``*_key`` column)."""


def _kind(python_type: Any) -> str:
    if python_type is bool:
        return "bool"
    if isclass(python_type) and issubclass(python_type, int | float | Decimal):
        return "number"
    if isclass(python_type) and issubclass(python_type, datetime):
        return "datetime"
    return "text"


def _json_kind(kind: str) -> str:
    """How a value of this kind is read out of JSON: dateTimes are ISO strings there."""
    return kind if kind in ("bool", "number") else "text"


def _json_key(model: type[BaseModel], field_name: str) -> str:
    return str(model._scim_name(field_name))


def _document_path(binding: AttributeBinding) -> tuple[str, ...]:
    """The path of the head attribute in the stored document (extensions nest under their URN)."""
    head = _json_key(binding.model, binding.field_name)
    schema = getattr(binding.model, "__schema__", None)
    if isclass(binding.model) and issubclass(binding.model, Extension) and schema:
        return (str(schema), head)
    return (head,)


def _sub_key(binding: AttributeBinding) -> str | None:
    if binding.sub_field_name is None:
        return None
    item = binding.field_type
    assert isclass(item) and issubclass(item, BaseModel)
    return _json_key(item, binding.sub_field_name)


_COLUMNS: dict[str, dict[tuple[str, str | None], tuple[str, str, bool, bool]]] = {
    # (field, sub field) -> (column, kind, case_exact, folded)
    "users": {
        ("id", None): ("id", "text", True, False),
        ("external_id", None): ("external_id", "text", True, False),
        ("user_name", None): ("user_name_key", "text", False, True),
        ("meta", "created"): ("created_at", "datetime", True, False),
        ("meta", "last_modified"): ("modified_at", "datetime", True, False),
    },
    "groups": {
        ("id", None): ("id", "text", True, False),
        ("external_id", None): ("external_id", "text", True, False),
        ("display_name", None): ("display_name_key", "text", False, True),
        ("meta", "created"): ("created_at", "datetime", True, False),
        ("meta", "last_modified"): ("modified_at", "datetime", True, False),
    },
}

_MEMBERSHIP_ATTRIBUTE = {"users": "groups", "groups": "members"}


# --- The translation ----------------------------------------------------------------


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


def filter_clause(table: Table, scim_filter: ScimFilter[Any]) -> ColumnElement[bool]:
    """The SQL condition of a filter bound to the model stored in ``table``."""
    model = scim_filter.model
    if model is None:
        raise InvalidFilterException(detail="the filter is not bound to a resource type")
    return FilterClause(_Translator(table, model).visit(scim_filter.ast), table, scim_filter)


def sealed_condition(
    condition: ColumnElement[bool], keyring: Keyring, directory_id: str
) -> ColumnElement[bool]:
    """The condition of a filter over encrypted rows (refusing what they cannot answer)."""
    if not isinstance(condition, FilterClause):
        return condition
    model = condition.scim_filter.model
    assert model is not None
    translator = _SealedTranslator(condition.table, model, keyring, directory_id)
    return translator.visit(condition.scim_filter.ast)


class Ordering(list[ColumnElement[Any]]):
    """ORDER BY terms, knowing whether encrypted rows could be sorted that way."""

    def __init__(self, terms: list[ColumnElement[Any]], refused: str | None = None) -> None:
        super().__init__(terms)
        self.refused = refused
        """The sortBy attribute, when its stored values are encrypted with encryption on."""


_SORTABLE_SEALED = {("id", None), ("meta", "created"), ("meta", "last_modified")}


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
    column = _column_operand(table, binding)
    if column is not None:
        return _ordered(column)
    if binding.field_name in ("groups", "members") and binding.is_multivalued:
        raise InvalidValueException(detail=f"sortBy: cannot sort on {binding.urn}")
    if binding.is_multivalued:
        return _primary_value(table, binding)
    return _ordered(_document_operand(table.c.doc, binding))


def ordering(
    table: Table, binding: AttributeBinding | None, *, descending: bool
) -> list[ColumnElement[Any]]:
    """ORDER BY for a page: ``sortBy`` then id, missing values last (first when descending).

    Without ``sortBy`` pages come in id order, which is creation order (UUIDv7).
    """
    if binding is None:
        return Ordering([table.c.id])
    key = sort_key(table, binding)
    sortable = (binding.field_name, binding.sub_field_name) in _SORTABLE_SEALED
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
    sub = _sub_key(binding) or "value"
    value = PrimaryValue(table.c.doc, _document_path(binding), sub)
    return _ordered(Operand(value, "text", binding.case_exact))


def _column_operand(table: Table, binding: AttributeBinding) -> Operand | None:
    found = _COLUMNS[table.name].get((binding.field_name, binding.sub_field_name))
    if found is None:
        return None
    column, kind, case_exact, folded = found
    return Operand(table.c[column], kind, case_exact, folded)


def _document_operand(document: ColumnElement[Any], binding: AttributeBinding) -> Operand:
    path = _document_path(binding)
    sub = _sub_key(binding)
    if sub is not None:
        path = (*path, sub)
    kind = _kind(binding.target_type)
    json_kind = _json_kind(kind)
    return Operand(JsonValue(document, path, json_kind), kind, binding.case_exact)


class _SqlTranslator(FilterVisitor[ColumnElement[bool]]):
    """What every translation shares: the logical operators, and no nested value paths."""

    def visit_logical_expr(self, node: LogicalExpr) -> ColumnElement[bool]:
        terms = [self.visit(term) for term in node.terms]
        return and_(*terms) if node.op == LogicalOperator.and_ else or_(*terms)

    def visit_not(self, node: Not) -> ColumnElement[bool]:
        return _negated(self.visit(node.expr))

    def visit_value_path(self, node: ValuePath) -> ColumnElement[bool]:
        raise InvalidFilterException(detail="a value path cannot be nested in another")


class _Translator(_SqlTranslator):
    """Translate a filter over the resources of one table."""

    def __init__(self, table: Table, model: type[BaseModel]) -> None:
        self.table = table
        self.model = model

    def visit_present(self, node: Present) -> ColumnElement[bool]:
        binding = self._resolve_or_none(node.attr_path, for_comparison=False)
        if binding is None:
            return false()
        if binding.field_name == _MEMBERSHIP_ATTRIBUTE.get(self.table.name):
            return _membership(self.table, binding, lambda _: literal(True))
        if binding.is_multivalued:
            sub = _sub_key(binding)
            path = _document_path(binding)
            return AnyElement(
                self.table.c.doc,
                path,
                lambda element: (
                    _present(JsonValue(element, (sub,), "text")) if sub else _present_json(element)
                ),
            )
        column = _column_operand(self.table, binding)
        if column is not None:
            return _present(column.expression) if column.kind == "text" else _not_null(column)
        if isclass(binding.target_type) and issubclass(binding.target_type, BaseModel):
            return _present_complex(self.table.c.doc, binding)
        operand = _document_operand(self.table.c.doc, binding)
        return _present(operand.expression) if operand.kind == "text" else _not_null(operand)

    def visit_comparison(self, node: Comparison) -> ColumnElement[bool]:
        binding = self._resolve_or_none(node.attr_path, for_comparison=True)
        if binding is None:
            return false()
        value = _coerced(binding, node.value, node.op)
        if binding.field_name == "meta" and binding.sub_field_name == "resource_type":
            return _constant(self.model.__name__.split("[")[0], value, node.op)
        if binding.field_name == "meta" and binding.sub_field_name == "version":
            return _version(self.table, value, node.op)
        if binding.field_name == _MEMBERSHIP_ATTRIBUTE.get(self.table.name):
            return self._membership_comparison(binding, node.op, value)
        if binding.is_multivalued:
            return self._any_value(binding, node.op, value)
        column = _column_operand(self.table, binding)
        operand = column or _document_operand(self.table.c.doc, binding)
        return _compare(operand, node.op, value)

    def visit_value_path(self, node: ValuePath) -> ColumnElement[bool]:
        binding = self._resolve_or_none(node.attr_path, for_comparison=False)
        if binding is None:
            return false()
        if binding.field_name == _MEMBERSHIP_ATTRIBUTE.get(self.table.name):
            inner = _MembershipTranslator(self.table)
            return _membership(self.table, binding, lambda row: inner.visit(node.val_filter))
        item = binding.field_type
        if not (isclass(item) and issubclass(item, BaseModel)):
            raise InvalidFilterException(
                detail=f"{node.attr_path} holds no sub-attributes to filter on"
            )
        return AnyElement(
            self.table.c.doc,
            _document_path(binding),
            lambda element: _ElementTranslator(element, item).visit(node.val_filter),
        )

    def _resolve_or_none(
        self, attr_path: AttrPath, *, for_comparison: bool
    ) -> AttributeBinding | None:
        """None for an attribute this type lacks (false, as RFC 7644 §3.4.2.1 says for /.search)."""
        return _resolve_filter_path(
            self.model, attr_path, strict=False, for_comparison=for_comparison
        )

    def _any_value(
        self, binding: AttributeBinding, op: CompareOperator, value: Any
    ) -> ColumnElement[bool]:
        sub = _sub_key(binding)
        kind = _kind(binding.target_type)
        json_kind = _json_kind(kind)

        def element_operand(element: ColumnElement[Any]) -> Operand:
            path = (sub,) if sub else ()
            return Operand(JsonValue(element, path, json_kind), kind, binding.case_exact)

        document = self.table.c.doc
        path = _document_path(binding)
        if op == CompareOperator.ne:
            equal = AnyElement(
                document, path, lambda e: _compare(element_operand(e), CompareOperator.eq, value)
            )
            return _negated(equal)
        return AnyElement(document, path, lambda e: _compare(element_operand(e), op, value))

    def _membership_comparison(
        self, binding: AttributeBinding, op: CompareOperator, value: Any
    ) -> ColumnElement[bool]:
        inner = _MembershipTranslator(self.table)
        sub = (binding.sub_field_name or "value").lower()
        if op == CompareOperator.ne:
            equal = _membership(
                self.table,
                binding,
                lambda _: _compare(inner.operand(sub), CompareOperator.eq, value),
            )
            return _negated(equal)
        return _membership(self.table, binding, lambda _: _compare(inner.operand(sub), op, value))


class _ElementTranslator(_SqlTranslator):
    """Translate the filter of a value path against one element of a JSON array."""

    def __init__(self, element: ColumnElement[Any], item: type[BaseModel]) -> None:
        self.element = element
        self.item = item

    def _operand(self, attr_path: AttrPath) -> tuple[Operand, AttributeBinding] | None:
        binding = _resolve_filter_path(self.item, attr_path, strict=False)
        if binding is None:
            return None
        kind = _kind(binding.target_type)
        json_kind = _json_kind(kind)
        key = _json_key(self.item, binding.field_name)
        return Operand(
            JsonValue(self.element, (key,), json_kind), kind, binding.case_exact
        ), binding

    def visit_comparison(self, node: Comparison) -> ColumnElement[bool]:
        found = self._operand(node.attr_path)
        if found is None:
            return false()
        operand, binding = found
        return _compare(operand, node.op, _coerced(binding, node.value, node.op))

    def visit_present(self, node: Present) -> ColumnElement[bool]:
        found = self._operand(node.attr_path)
        if found is None:
            return false()
        operand, _ = found
        return _present(operand.expression) if operand.kind == "text" else _not_null(operand)


# --- Encryption at rest ---------------------------------------------------------------

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

_PLAIN_COLUMNS = {("id", None), ("meta", "created"), ("meta", "last_modified")}
"""Columns kept plain with encryption on: every operator works on them."""

_SEALED_ANSWERS = (
    "with encryption at rest on, only eq and ne on userName, externalId, emails.value and "
    "group displayName, pr, and filters on id, active and meta are answered"
)


def _refused(attribute: object, op: str) -> InvalidFilterException:
    return InvalidFilterException(
        detail=f"cannot filter on {attribute} with {op}: its stored values are encrypted "
        f"({_SEALED_ANSWERS})"
    )


class _SealedTranslator(_Translator):
    """Translate a filter over rows whose document and names are encrypted."""

    def __init__(
        self, table: Table, model: type[BaseModel], keyring: Keyring, directory_id: str
    ) -> None:
        super().__init__(table, model)
        self.keyring = keyring
        self.directory_id = directory_id

    def visit_comparison(self, node: Comparison) -> ColumnElement[bool]:
        binding = self._resolve_or_none(node.attr_path, for_comparison=True)
        if binding is None:
            return false()
        where = (binding.field_name, binding.sub_field_name)
        if binding.field_name == "meta" or where in _PLAIN_COLUMNS:
            return super().visit_comparison(node)
        if binding.field_name == _MEMBERSHIP_ATTRIBUTE.get(self.table.name):
            if (binding.sub_field_name or "value").lower() == "display":
                raise _refused(node.attr_path, node.op.value)
            return super().visit_comparison(node)
        value = _coerced(binding, node.value, node.op)
        if self.table.name == "users" and where == ("active", None):
            return _compare(Operand(users.c.active, "bool", True), node.op, value)
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
            return _compare(Operand(column, "text", True), node.op, None)
        if not isinstance(value, str):
            return false()
        compared = value if case_exact else fold(value)
        hashes = self.keyring.lookups(attribute, self.directory_id, compared)
        return self._equal_or_not(column.in_(hashes), node.op)

    def _equal_or_not(self, equal: ColumnElement[bool], op: CompareOperator) -> ColumnElement[bool]:
        return equal if op == CompareOperator.eq else _negated(equal)

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
        if binding.field_name == "meta" or where in _PLAIN_COLUMNS:
            return super().visit_present(node)
        if binding.field_name == _MEMBERSHIP_ATTRIBUTE.get(self.table.name):
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
        return _present(self.table.c[lookup[0]])

    def visit_value_path(self, node: ValuePath) -> ColumnElement[bool]:
        binding = self._resolve_or_none(node.attr_path, for_comparison=False)
        if binding is None:
            return false()
        if binding.field_name == _MEMBERSHIP_ATTRIBUTE.get(self.table.name):
            inner = _SealedMembershipTranslator(self.table)
            return _membership(self.table, binding, lambda row: inner.visit(node.val_filter))
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


# --- Membership-derived attributes ------------------------------------------------------

_member_user = users.alias("scim_member_user")
_member_group = groups.alias("scim_member_group")
_parent_group = groups.alias("scim_parent_group")


def _membership(
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


class _MembershipTranslator(_SqlTranslator):
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
        return _compare(self.operand(self._sub(node.attr_path)), node.op, node.value)

    def visit_present(self, node: Present) -> ColumnElement[bool]:
        return _present(self.operand(self._sub(node.attr_path)).expression)


class _SealedMembershipTranslator(_MembershipTranslator):
    """Membership sub-attributes with encryption on: the names are encrypted, ids are not."""

    def operand(self, sub: str) -> Operand:
        if sub == "display":
            raise _refused(f"{_MEMBERSHIP_ATTRIBUTE[self.table.name]}.display", "a filter")
        return super().operand(sub)


# --- Comparisons ------------------------------------------------------------------------


def _negated(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """``not condition``, where SQL's unknown (a NULL operand) counts as false.

    Under ``and`` and ``or``, an unknown leaf is true exactly when the
    two-valued reading is, so leaves stay plain comparisons that indexes can
    serve; only a negation needs the unknown made false first.
    """
    return not_(func.coalesce(condition, false()))


def _present(expression: ColumnElement[Any]) -> ColumnElement[bool]:
    return and_(expression.is_not(None), expression != "")


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
    path = _document_path(binding)
    checks = []
    for field_name in item.model_fields:
        kind = _kind(item.get_field_root_type(field_name))
        value = JsonValue(document, (*path, _json_key(item, field_name)), "text")
        checks.append(_present(value) if kind == "text" else value.is_not(None))
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
    equal = table.c.version == number if number is not None and number in _INT64 else false()
    return equal if op == CompareOperator.eq else _negated(equal)


_INT64 = range(-(2**63), 2**63)
"""The integers both databases compare exactly (SQLite's INTEGER, PostgreSQL's bigint)."""


def _coerced(binding: AttributeBinding, raw: Any, op: CompareOperator) -> Any:
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
    if isinstance(value, int) and value not in _INT64:
        raise _out_of_range(binding, raw, "integers are compared within -2^63 .. 2^63-1")
    if isinstance(value, float | Decimal) and not math.isfinite(value):
        raise _out_of_range(binding, raw, "a number must be finite")
    return value


def _out_of_range(binding: AttributeBinding, raw: Any, reason: str) -> InvalidFilterException:
    shown = raw if not isinstance(raw, str) or len(raw) <= 64 else raw[:64] + "…"
    return InvalidFilterException(
        detail=f"value {shown!r} cannot be compared with {binding.urn}: {reason}"
    )


def _compare(operand: Operand, op: CompareOperator, value: Any) -> ColumnElement[bool]:
    """One comparison of a single value, as ``_compare`` of scim2-models does it.

    The result is unknown (NULL) where the attribute is absent; see ``_negated``.
    """
    expression = operand.expression
    if value is None:
        # Only "eq null" / "ne null" reach here; an absent value equals null.
        condition = expression.is_(None)
        return condition if op == CompareOperator.eq else _negated(condition)
    if op == CompareOperator.ne:
        return _negated(_compare(operand, CompareOperator.eq, value))
    if operand.kind == "text":
        if not isinstance(value, str):
            return false()
        left = expression if operand.case_exact or operand.folded else func.scim_fold(expression)
        right = value if operand.case_exact else fold(value)
        return _text_comparison(left, op, right)
    if operand.kind == "datetime" and isinstance(value, datetime):
        if isinstance(expression, JsonValue):
            stamp = value.astimezone(UTC).isoformat().replace("+00:00", "Z")
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
        return _Contains(left, right)
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


class _Contains(ColumnElement[bool]):
    """``needle`` occurs in ``haystack`` (``instr`` on SQLite, ``strpos`` on PostgreSQL)."""

    inherit_cache = False
    type = Boolean()

    def __init__(self, haystack: ColumnElement[Any], needle: str) -> None:
        self.haystack = haystack
        self.needle = literal(needle, String())


@compiles(_Contains, "sqlite")
def _contains_sqlite(element: _Contains, compiler: SQLCompiler, **kw: Any) -> str:
    haystack, needle = (compiler.process(part, **kw) for part in (element.haystack, element.needle))
    return f"(instr({haystack}, {needle}) > 0)"


@compiles(_Contains, "postgresql")
def _contains_postgresql(element: _Contains, compiler: SQLCompiler, **kw: Any) -> str:
    haystack, needle = (compiler.process(part, **kw) for part in (element.haystack, element.needle))
    return f"(strpos({haystack}, {needle}) > 0)"


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
