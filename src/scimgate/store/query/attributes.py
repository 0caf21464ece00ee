"""Where an attribute lives: a column the service keeps, or a path in the stored document.

Attributes the service keeps in columns are read from them (``userName`` through
its folded, uniquely indexed key, ``externalId``, group ``displayName``, ``id``,
``meta``), so that the lookups identity providers make are index lookups.
Everything else is read from the stored document, at a path built from the
names the models declare.
"""

from datetime import datetime
from decimal import Decimal
from inspect import isclass
from typing import Any

from scim2_models import BaseModel, Extension
from scim2_models.path import AttributeBinding
from sqlalchemy import ColumnElement, Table

from scimgate.records import frozen
from scimgate.store.query.constructs import JsonValue


@frozen
class Operand:
    """A single-valued thing to compare: an SQL expression and how it compares."""

    expression: ColumnElement[Any]
    kind: str
    """``text``, ``bool``, ``number`` or ``datetime``."""

    case_exact: bool
    folded: bool = False
    """The expression already holds the comparison form (a ``*_key`` column)."""


def kind_of(python_type: Any) -> str:
    """How values of this Python type compare: ``text``, ``bool``, ``number`` or ``datetime``."""
    if python_type is bool:
        return "bool"
    if isclass(python_type) and issubclass(python_type, int | float | Decimal):
        return "number"
    if isclass(python_type) and issubclass(python_type, datetime):
        return "datetime"
    return "text"


def json_kind_of(kind: str) -> str:
    """How a value of this kind is read out of JSON: dateTimes are ISO strings there."""
    return kind if kind in ("bool", "number") else "text"


def json_key(model: type[BaseModel], field_name: str) -> str:
    """The key a field is stored under: the name the model declares, not a request's spelling."""
    return str(model._scim_name(field_name))


def document_path(binding: AttributeBinding) -> tuple[str, ...]:
    """The path of the head attribute in the stored document (extensions nest under their URN)."""
    head = json_key(binding.model, binding.field_name)
    schema = getattr(binding.model, "__schema__", None)
    if isclass(binding.model) and issubclass(binding.model, Extension) and schema:
        return (str(schema), head)
    return (head,)


def sub_key(binding: AttributeBinding) -> str | None:
    """The key of the sub-attribute inside the head attribute's value, if the path names one."""
    if binding.sub_field_name is None:
        return None
    item = binding.field_type
    assert isclass(item) and issubclass(item, BaseModel)
    return json_key(item, binding.sub_field_name)


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

MEMBERSHIP_ATTRIBUTE = {"users": "groups", "groups": "members"}
"""The attribute each table's resources derive from the membership rows, not the document."""


def column_operand(table: Table, binding: AttributeBinding) -> Operand | None:
    """The column the service keeps the attribute in, or None if it is only in the document."""
    found = _COLUMNS[table.name].get((binding.field_name, binding.sub_field_name))
    if found is None:
        return None
    column, kind, case_exact, folded = found
    return Operand(table.c[column], kind, case_exact, folded)


def document_operand(document: ColumnElement[Any], binding: AttributeBinding) -> Operand:
    """The attribute (a single value) read from the stored document."""
    path = document_path(binding)
    sub = sub_key(binding)
    if sub is not None:
        path = (*path, sub)
    kind = kind_of(binding.target_type)
    json_kind = json_kind_of(kind)
    return Operand(JsonValue(document, path, json_kind), kind, binding.case_exact)
