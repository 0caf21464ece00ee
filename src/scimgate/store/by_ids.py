"""Statements that look rows up by a list of ids, with a twin for a single id.

An expanding ``IN`` is rendered again for every execution, which costs a lookup
of one id (what a single member change or a single user's event asks) about as
much as running it. Each such statement is therefore built twice, once with
``IN`` and once with ``=``, and the one that fits the ids is run.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Connection, Executable, bindparam

from scimgate.store.prepared import Prepared

S = TypeVar("S", bound=Executable)


@dataclass(frozen=True)
class ByIds(Generic[S]):
    """A statement built for many ids (``many``) and for one (``one``), bound as ``name``."""

    many: S
    one: S
    name: str

    def run(
        self, conn: Connection, ids: Sequence[str], parameters: dict[str, Any]
    ) -> Sequence[Sequence[Any]]:
        """Run it for these ids (at least one) and the other parameters: the rows it read,
        by position."""
        if len(ids) == 1:
            return self._one.rows(conn, {**parameters, self.name: ids[0]})
        return conn.execute(self.many, {**parameters, self.name: list(ids)}).all()

    @cached_property
    def _one(self) -> Prepared:
        """The one-id twin, the common case, through the driver (an expanding ``IN`` cannot)."""
        return Prepared(self.one)

    def map(self, change: Callable[[S], S]) -> "ByIds[S]":
        """The same change made to both statements (a lock added, say)."""
        return ByIds(change(self.many), change(self.one), self.name)


def by_ids(
    build: Callable[[ColumnElement[bool]], S], column: ColumnElement[Any], name: str
) -> ByIds[S]:
    """``build(condition)`` for ``column IN :name`` and for ``column = :name``."""
    return ByIds(
        build(column.in_(bindparam(name, expanding=True))), build(column == bindparam(name)), name
    )
