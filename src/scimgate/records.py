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
"""

from collections.abc import Callable
from dataclasses import MISSING, dataclass
from typing import Any, TypeVar, dataclass_transform, overload

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
