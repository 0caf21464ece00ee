"""The MetaData every table belongs to, and the column types the tables share.

Importing this module, or any table module, first runs the package's
``__init__``, which loads every table module: the MetaData is always complete.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, String, TypeDecorator
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect

from scimgate.scim.instants import rfc3339

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Document = JSON().with_variant(JSONB(), "postgresql")
"""A JSON document: JSONB on PostgreSQL, JSON text on SQLite."""

Uuid = String(36)
"""Ids are UUID strings: the same text on every backend and on the wire."""

Sealable = String()
"""Personal text that encryption at rest stores encrypted (longer than the value): no length cap.

The values' own limits are checked before they are stored.
"""


class Timestamp(TypeDecorator[datetime]):
    """A UTC instant: stored in UTC, always read back timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        # PostgreSQL answers in its session's time zone; scimgate speaks UTC only.
        return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        """On SQLite, one function from the instant to SQLite's text: what
        ``process_bind_param`` and SQLite's ``DATETIME`` do one after the other, for about
        half their CPU (every write binds two to four of these)."""
        if dialect.name == "sqlite":
            return _sqlite_text
        return super().bind_processor(dialect)

    def result_processor(
        self, dialect: Dialect, coltype: object
    ) -> Callable[[Any], datetime | None] | None:
        """On SQLite, one function from the text to the instant, as for binding."""
        if dialect.name == "sqlite":
            return _sqlite_instant
        return super().result_processor(dialect, coltype)


def _sqlite_text(value: datetime | None) -> str | None:
    """SQLite's ``DATETIME`` text of a UTC instant (its storage format, with microseconds):
    ``value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")``, cut from
    its RFC 3339 text in a third of the time (``scim.instants`` says why)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    text = rfc3339(value)  # YYYY-MM-DDTHH:MM:SS[.ffffff]Z
    fraction = text[19:26] if text[19] == "." else ".000000"
    return f"{text[:10]} {text[11:19]}{fraction}"


_UTC_OFFSET = "+00:00"


def _sqlite_instant(value: str | None) -> datetime | None:
    """The UTC instant of SQLite's ``DATETIME`` text.

    The text holds no offset (``_sqlite_text``): parsed with UTC's appended, the instant
    comes out aware at once, where ``replace(tzinfo=UTC)`` after parsing costs seven times
    the parse. Text with an offset of its own fails that parse, and a date alone parses
    without its offset (Python 3.11): both are read the general way.
    """
    if value is None:
        return None
    try:
        instant = datetime.fromisoformat(value + _UTC_OFFSET)
    except ValueError:
        instant = None
    if instant is not None and instant.tzinfo is not None:
        return instant
    parsed = datetime.fromisoformat(value)
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
