"""Records: data that does not change once made, made as cheaply as plain data.

A frozen dataclass refuses assignment at run time, and pays for it as it is made:
it sets each field through ``object.__setattr__``, about 80 ns a field on Python
3.11, seven times what a plain dataclass takes. A SCIM request makes some twenty
such values of about a hundred fields in all (its credential and scope, its
event, its provisioning-log entry, its answer's document), which was 5.7% of a
create's instructions and 6.2% of a lookup's.

``frozen`` declares a dataclass that the type checker holds frozen (PEP 681's
``frozen_default``): assigning to a field of one is a type error, reported by
``mypy --strict`` as any other. At run time it is a plain dataclass that is equal
and hashes by its fields, as a frozen one does; ``dataclasses.replace`` makes a
changed copy. The simulator and the Python client, which import nothing of the
server, keep frozen dataclasses.

``cached_property`` keeps what a record computes from its fields at the first read, as
``functools.cached_property`` does, without the lock Python 3.11 takes for it.
"""

from collections.abc import Callable
from dataclasses import MISSING, dataclass
from typing import Any, Generic, TypeVar, dataclass_transform, overload

T = TypeVar("T")


@overload
def frozen(cls: type[T], /) -> type[T]: ...


@overload
def frozen(*, slots: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(frozen_default=True)
def frozen(cls: type[Any] | None = None, /, *, slots: bool = False) -> Any:
    """Make ``cls`` a record (``@frozen``, or ``@frozen(slots=True)``)."""

    def made(cls: type[T]) -> type[T]:
        # A frozen dataclass hashes by its fields unless the class hashes its own way.
        own = cls.__dict__.get("__hash__", MISSING)
        hashes_its_own_way = own is not MISSING and not (own is None and "__eq__" in cls.__dict__)
        return dataclass(cls, slots=slots, unsafe_hash=not hashes_its_own_way)

    return made if cls is None else made(cls)


class cached_property(Generic[T]):
    """``functools.cached_property`` as Python 3.12 has it: computed at the first read and
    kept in the instance, without the lock that 3.11 takes at every first read.

    That lock cost about a microsecond a read (a create makes five, in its scope, its
    directory's configuration and its event's payload) and bought only that threads
    reading one new value at once compute it once; the values kept here are made by the
    thread that reads them, or computing them twice would give the same.
    """

    def __init__(self, compute: Callable[[Any], T]) -> None:
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type[Any] | None = None) -> "cached_property[T]": ...

    @overload
    def __get__(self, instance: object, owner: type[Any] | None = None) -> T: ...

    def __get__(self, instance: object | None, owner: type[Any] | None = None) -> Any:
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.compute(instance)
        return value
