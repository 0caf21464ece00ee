"""SQL constructs the translations need, each compiled for SQLite and for PostgreSQL.

SQLAlchemy has no portable spelling for reading into a JSON document, for EXISTS
over the elements of a JSON array, or for ordering strings by code point, so each
is a column element of its own with one compiler per dialect. JSON paths go into
the SQL text as quoted keys: they are the names the models declare (see
``attributes``), never a request's spelling.
"""

from collections.abc import Callable
from itertools import count
from typing import Any

from sqlalchemy import ColumnElement, literal, literal_column
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import Boolean, Numeric, String, TypeEngine


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
    """A JSON path for SQLite's JSON functions, every key quoted."""
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
    entries = _sqlite_entries(element, compiler, **kw)
    return (
        f"EXISTS (SELECT 1 FROM {entries} "
        f"AS {element.alias} WHERE {compiler.process(element.predicate, **kw)})"
    )


@compiles(AnyElement, "postgresql")
def _any_element_postgresql(element: AnyElement, compiler: SQLCompiler, **kw: Any) -> str:
    entries = _postgresql_entries(element, compiler, **kw)
    return (
        f"EXISTS (SELECT 1 FROM {entries} "
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


def _sqlite_entries(element: AnyElement | PrimaryValue, compiler: SQLCompiler, **kw: Any) -> str:
    """The entries of the array at the element's path, as a table (``key``, ``value``)."""
    document = compiler.process(element.document, **kw)
    return f"json_each({document}, '{sqlite_json_path(element.path)}')"


def _postgresql_entries(
    element: AnyElement | PrimaryValue, compiler: SQLCompiler, **kw: Any
) -> str:
    """The entries of the array at the element's path (none if it holds no array), as a table."""
    array = _postgresql_array(compiler.process(element.document, **kw), element.path)
    return f"jsonb_array_elements({array})"


@compiles(PrimaryValue, "sqlite")
def _primary_value_sqlite(element: PrimaryValue, compiler: SQLCompiler, **kw: Any) -> str:
    sub = sqlite_json_path((element.sub,))
    return (
        f"(SELECT json_extract(e.value, '{sub}') "
        f"FROM {_sqlite_entries(element, compiler, **kw)} AS e "
        f"ORDER BY CASE WHEN json_extract(e.value, '$.\"primary\"') = 1 THEN 0 ELSE 1 END, "
        f"e.key LIMIT 1)"
    )


@compiles(PrimaryValue, "postgresql")
def _primary_value_postgresql(element: PrimaryValue, compiler: SQLCompiler, **kw: Any) -> str:
    return (
        f"(SELECT e.value #>> '{_postgresql_path((element.sub,))}' "
        f"FROM {_postgresql_entries(element, compiler, **kw)} WITH ORDINALITY AS e(value, n) "
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


class Contains(ColumnElement[bool]):
    """``needle`` occurs in ``haystack`` (``instr`` on SQLite, ``strpos`` on PostgreSQL)."""

    inherit_cache = False
    type = Boolean()

    def __init__(self, haystack: ColumnElement[Any], needle: str) -> None:
        self.haystack = haystack
        self.needle = literal(needle, String())


@compiles(Contains, "sqlite")
def _contains_sqlite(element: Contains, compiler: SQLCompiler, **kw: Any) -> str:
    haystack, needle = (compiler.process(part, **kw) for part in (element.haystack, element.needle))
    return f"(instr({haystack}, {needle}) > 0)"


@compiles(Contains, "postgresql")
def _contains_postgresql(element: Contains, compiler: SQLCompiler, **kw: Any) -> str:
    haystack, needle = (compiler.process(part, **kw) for part in (element.haystack, element.needle))
    return f"(strpos({haystack}, {needle}) > 0)"
