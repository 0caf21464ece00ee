"""The edges of what the service stores and compares: instants and integers that fit.

A time from a request may lie outside what Python's calendar holds once moved
to UTC (``0001-01-01T00:00:00+14:00``), and an integer outside what the
database's column holds; either would fail deep in a query as a server error.
The edges check them here, where the field can still be named.
"""

from datetime import UTC, datetime

INT32_MAX = 2**31 - 1
"""The largest value of an ``Integer`` column (PostgreSQL's ``integer``)."""

INT64_MAX = 2**63 - 1
"""The largest value of a ``BigInteger`` column, and of an SQLite INTEGER."""

EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)
"""A day inside the calendar's ends, so that a day's arithmetic on an instant cannot overflow."""


def utc_instant(moment: datetime) -> datetime:
    """The instant in UTC (a naive time is taken as UTC); ValueError outside the calendar."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    try:
        utc = aware.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise ValueError(
            f"{moment.isoformat()} is outside the times this service handles "
            f"({EARLIEST.date().isoformat()} to {LATEST.date().isoformat()} UTC)"
        )
    return utc
