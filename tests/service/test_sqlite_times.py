"""Times on SQLite: the ``Timestamp`` column's own text conversions against SQLAlchemy's.

``Timestamp`` binds and reads an instant on SQLite with one function each, in place
of its ``process_bind_param`` followed by SQLite's ``DATETIME`` processor (and the
reverse). These properties hold the two ways to the same text, the same instant,
and the same refusal.
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Column, MetaData, Table, TypeDecorator, create_engine, insert, select
from sqlalchemy.dialects import sqlite

from property_support import property_settings
from scimgate.store.tables.base import Timestamp

DIALECT = sqlite.dialect()
TYPE = Timestamp().dialect_impl(DIALECT)

zones = st.one_of(
    st.just(UTC),
    st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23)).map(timezone),
    st.timezones(),
)
instants = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=zones
)


def outcome(process: Callable[[Any], Any], value: Any) -> Any:
    """What a processor gives, or the type of what it raises."""
    try:
        return process(value)
    except (ValueError, OverflowError) as exc:
        return type(exc)


def sqlalchemy_bind() -> Callable[[Any], Any]:
    processor = TypeDecorator.bind_processor(TYPE, DIALECT)
    assert processor is not None
    return processor


def sqlalchemy_result() -> Callable[[Any], Any]:
    processor = TypeDecorator.result_processor(TYPE, DIALECT, None)
    assert processor is not None
    return processor


def test_the_sqlite_processors_are_the_columns_own() -> None:
    assert TYPE.bind_processor(DIALECT) is not sqlalchemy_bind()
    assert TYPE.bind_processor(DIALECT).__module__ == Timestamp.__module__  # type: ignore[union-attr]
    assert TYPE.result_processor(DIALECT, None).__module__ == Timestamp.__module__  # type: ignore[union-attr]


@property_settings(300)
@given(instant=st.one_of(instants, st.datetimes()))
def test_an_instant_is_bound_as_sqlalchemy_binds_it(instant: datetime) -> None:
    ours = TYPE.bind_processor(DIALECT)
    assert ours is not None
    assert outcome(ours, instant) == outcome(sqlalchemy_bind(), instant)


@property_settings(300)
@given(
    instant=instants,
    shape=st.sampled_from(["stored", "seconds", "offset", "T", "date"]),
)
def test_text_is_read_as_sqlalchemy_reads_it(instant: datetime, shape: str) -> None:
    """Text in the stored form, and in the other forms ``fromisoformat`` accepts that a row
    written by hand could hold (a date alone, too: with an offset appended, Python 3.11
    parses it without one)."""
    naive = instant.astimezone(UTC).replace(tzinfo=None)
    text = {
        "stored": naive.isoformat(" ", "microseconds"),
        "seconds": naive.isoformat(" ", "seconds"),
        "offset": instant.isoformat(" "),
        "T": naive.isoformat(),
        "date": naive.date().isoformat(),
    }[shape]
    ours = TYPE.result_processor(DIALECT, None)
    assert ours is not None
    read = outcome(ours, text)
    assert read == outcome(sqlalchemy_result(), text)
    assert not isinstance(read, datetime) or read.tzinfo is UTC


def test_none_stays_none() -> None:
    assert TYPE.bind_processor(DIALECT)(None) is None  # type: ignore[misc]
    assert TYPE.result_processor(DIALECT, None)(None) is None  # type: ignore[misc]


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        TYPE.bind_processor(DIALECT)(datetime(2026, 1, 1))  # type: ignore[misc]


def test_an_instant_round_trips_through_a_sqlite_file(tmp_path: Any) -> None:
    """Written and read back through SQLAlchemy on a real file: the same instant, in UTC,
    stored as SQLite's ``DATETIME`` text."""
    engine = create_engine(f"sqlite:///{tmp_path / 'times.db'}")
    table = Table("times", MetaData(), Column("at", Timestamp(), nullable=False))
    written = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=timezone(timedelta(hours=-7)))
    with engine.begin() as conn:
        table.create(conn)
        conn.execute(insert(table).values(at=written))
        read = conn.execute(select(table.c.at)).scalar_one()
        raw = conn.exec_driver_sql("SELECT at FROM times").scalar_one()
    engine.dispose()
    assert read == written and read.tzinfo is UTC
    assert raw == "2026-03-04 12:06:07.891011"
