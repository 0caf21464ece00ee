"""Cutting long lists of ids into batches: one statement per batch, never one per id.

A statement's bound parameters stay under what each backend takes (SQLite
32,766, PostgreSQL 65,535), however many members one request names.
"""

from collections.abc import Iterator, Sequence
from typing import TypeVar

BATCH_SIZE = 1000

T = TypeVar("T")


def batches(items: Sequence[T], size: int = BATCH_SIZE) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
