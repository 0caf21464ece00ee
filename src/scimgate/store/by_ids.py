"""Statements that look rows up by a list of ids, built for one id and for a few.

An expanding ``IN`` is rendered again for every execution, which costs a lookup
of a few ids (one for a single member change or a user's event, ten for the
members Microsoft Entra ID adds in one request) about as much as running it. Each
such statement is therefore also built with ``=`` for one id, and with a fixed
number of placeholders for up to ``MOST_PLACED`` ids (2, 4, 8, … of them: a list is
padded with its last id, which ``IN`` matches once), and those run through the
driver (:mod:`scimgate.store.prepared`). A longer list takes the expanding ``IN``,
whose rendering it shares out over its ids.
"""

from collections.abc import Callable, Sequence
from dataclasses import field
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Connection, Executable, bindparam

from scimgate.records import cached_property, frozen
from scimgate.store.prepared import Prepared

S = TypeVar("S", bound=Executable)

IdsCondition = Callable[[ColumnElement[Any]], ColumnElement[bool]]
"""The condition that a column holds one of the ids."""

MOST_PLACED = 64
"""The most ids a statement with one placeholder per id is built for."""


@frozen
class ByIds(Generic[S]):
    """``build(ids)``, a statement for the condition ``ids(column)``, with the ids bound
    under ``name``."""

    build: Callable[[IdsCondition], S]
    name: str
    _placed: dict[int, Prepared] = field(default_factory=dict, init=False, compare=False)
    """The statement for each number of placeholders, once built (two threads building
    the same one build the same)."""

    def run(
        self, conn: Connection, ids: Sequence[str], parameters: dict[str, Any]
    ) -> Sequence[Sequence[Any]]:
        """Run it for these ids (at least one) and the other parameters: the rows it read,
        by position."""
        if len(ids) > MOST_PLACED:
            return conn.execute(self._expanding, {**parameters, self.name: list(ids)}).all()
        size = 1 << (len(ids) - 1).bit_length()
        padded = [*ids, *[ids[-1]] * (size - len(ids))]
        return self._placeholders(size).rows(
            conn, {**parameters, **dict(zip(_names(self.name, size), padded, strict=True))}
        )

    def statement(self, size: int) -> S:
        """The statement for ``size`` ids, one placeholder each (one id: ``=``)."""
        if size == 1:
            return self.build(lambda column: column == bindparam(self.name))
        names = _names(self.name, size)
        return self.build(lambda column: column.in_([bindparam(name) for name in names]))

    def _placeholders(self, size: int) -> Prepared:
        found = self._placed.get(size)
        if found is None:
            found = self._placed[size] = Prepared(self.statement(size))
        return found

    @cached_property
    def _expanding(self) -> S:
        return self.build(lambda column: column.in_(bindparam(self.name, expanding=True)))

    def map(self, change: Callable[[S], S]) -> "ByIds[S]":
        """The same change made to each statement (a lock added, say)."""
        build = self.build
        return ByIds(lambda ids: change(build(ids)), self.name)


def _names(name: str, size: int) -> list[str]:
    return [name] if size == 1 else [f"{name}_{index}" for index in range(size)]


def by_ids(
    build: Callable[[ColumnElement[bool]], S], column: ColumnElement[Any], name: str
) -> ByIds[S]:
    """``build(condition)`` for ``column`` holding one of the ids bound as ``name``."""
    return ByIds(lambda ids: build(ids(column)), name)
