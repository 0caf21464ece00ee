"""Remembering where sequential ``startIndex`` walks stopped, so the next page is a keyset seek.

SCIM's ``startIndex`` is positional, and an OFFSET makes page N cost N pages.
Identity providers walk pages in order (1, 101, 201…), so when a page of a
walk is served, the id it ended on is remembered under the position the next
page will ask for. That page is then read with ``id > last`` from the index:
the last page costs what the first does. A position nobody remembers (a jump,
another process, an evicted entry) falls back to OFFSET.

The positions belong to the database they were read from: each engine has its
own (``walks_of``), kept by this process for as long as the engine lives, so
an id remembered in one database never steers a walk in another.
"""

from collections import OrderedDict
from dataclasses import replace
from threading import Lock
from weakref import WeakKeyDictionary

from sqlalchemy import Engine

from scimgate.records import frozen


@frozen
class WalkKey:
    """Everything that makes two list requests parts of the same walk."""

    directory_id: str
    resource_type: str
    filter: str | None
    count: int
    start_index: int

    def next_page(self) -> "WalkKey":
        """The same walk, at the page after this one."""
        return replace(self, start_index=self.start_index + self.count)


class WalkPositions:
    """A bounded, thread-safe map from the next page of a walk to the id it resumes after."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._positions: OrderedDict[WalkKey, str] = OrderedDict()
        self._lock = Lock()

    def resume_after(self, key: WalkKey) -> str | None:
        """The id the page ``key`` resumes after, if remembered; it is then forgotten."""
        with self._lock:
            last_id = self._positions.pop(key, None)
        return last_id

    def remember(self, key: WalkKey, last_id: str) -> None:
        """Note that page ``key`` resumes after ``last_id``; past capacity, the oldest go."""
        with self._lock:
            self._positions[key] = last_id
            self._positions.move_to_end(key)
            while len(self._positions) > self._capacity:
                self._positions.popitem(last=False)


_BY_ENGINE: "WeakKeyDictionary[Engine, WalkPositions]" = WeakKeyDictionary()
_LOCK = Lock()


def walks_of(engine: Engine) -> WalkPositions:
    """The walk positions of one database, as this process remembers them."""
    found = _BY_ENGINE.get(engine)
    if found is None:
        with _LOCK:
            found = _BY_ENGINE.setdefault(engine, WalkPositions())
    return found
