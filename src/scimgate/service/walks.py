"""Remembering where sequential ``startIndex`` walks stopped, so the next page is a keyset seek.

SCIM's ``startIndex`` is positional, and an OFFSET makes page N cost N pages.
Identity providers walk pages in order (1, 101, 201…), so when a page of a
walk is served, the id it ended on is remembered under the position the next
page will ask for. That page is then read with ``id > last`` from the index:
the last page costs what the first does. A position nobody remembers (a jump,
another process, an evicted entry) falls back to OFFSET.
"""

from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock


@dataclass(frozen=True)
class WalkKey:
    """Everything that makes two list requests parts of the same walk."""

    directory_id: str
    resource_type: str
    filter: str | None
    count: int
    start_index: int


class WalkPositions:
    """A bounded, thread-safe map from the next page of a walk to the id it resumes after."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._positions: OrderedDict[WalkKey, str] = OrderedDict()
        self._lock = Lock()

    def resume_after(self, key: WalkKey) -> str | None:
        with self._lock:
            last_id = self._positions.pop(key, None)
        return last_id

    def remember(self, key: WalkKey, last_id: str) -> None:
        with self._lock:
            self._positions[key] = last_id
            self._positions.move_to_end(key)
            while len(self._positions) > self._capacity:
                self._positions.popitem(last=False)
