"""The MetaData every table belongs to, and the column types the tables share.

Importing this module, or any table module, first runs the package's
``__init__``, which loads every table module: the MetaData is always complete.
"""

from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, MetaData, String, TypeDecorator
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect

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
