"""RFC 3339 text of instants, written by orjson, against ``datetime.isoformat``'s."""

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from property_support import property_settings
from scimgate.scim.instants import rfc3339

zones = st.one_of(
    st.just(UTC),
    st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23)).map(timezone),
    st.timezones(),
)


def isoformat_way(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@property_settings(500)
@given(
    moment=st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=zones
    )
)
def test_an_instant_is_written_as_isoformat_writes_it(moment: datetime) -> None:
    assert rfc3339(moment) == isoformat_way(moment)


def test_whole_seconds_and_early_years() -> None:
    for moment in (
        datetime(2026, 12, 7, 6, 0, tzinfo=UTC),
        datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, 5000, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    ):
        assert rfc3339(moment) == isoformat_way(moment)
    assert rfc3339(datetime(2026, 12, 7, 6, 0, tzinfo=UTC)) == "2026-12-07T06:00:00Z"


def test_a_subclass_of_datetime_takes_isoformat() -> None:
    """orjson refuses subclasses of ``datetime``."""

    class Moment(datetime):
        pass

    moment = Moment(2026, 12, 7, 6, 0, 1, 2, tzinfo=UTC)
    assert rfc3339(moment) == "2026-12-07T06:00:01.000002Z"


@property_settings(200)
@given(
    moments=st.lists(
        st.sampled_from(
            [
                datetime(2026, 12, 7, 6, 0, 1, 2, tzinfo=UTC),
                datetime(2026, 12, 7, 6, 0, 1, 3, tzinfo=UTC),
                datetime(2026, 12, 7, 6, 0, 1, 2, tzinfo=timezone(timedelta(hours=1))),
                datetime(2026, 12, 7, 6, 0, 1, 2),
            ]
        ),
        max_size=12,
    )
)
def test_an_instant_asked_again_is_written_as_the_first_time(moments: list[datetime]) -> None:
    """The last instant's text is kept: asked in any order, each is written as alone."""
    for moment in moments:
        assert rfc3339(moment) == isoformat_way(moment)
