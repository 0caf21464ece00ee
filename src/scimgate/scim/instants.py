"""UTC instants as RFC 3339 text, written by orjson.

Every answer, event and access line writes a few of these. On Python 3.11
``datetime.isoformat`` formats through ``PyUnicode_FromFormat`` and costs about
a microsecond; orjson writes the same text in a third of that. Both give the
same text (``tests/scim/test_instants.py``).

A create writes each of its instants several times (its row's times, the meta of
its document and of its answer), one after another: the last instant written is
kept with its text, and asked again, its text is given back. Kept by identity,
which the kept reference holds (an instant is immutable, so its text cannot change), and
only in UTC: a naive instant's text follows the process's time zone.
"""

from datetime import UTC, datetime

import orjson

_last: tuple[datetime | None, str] = (None, "")
"""The last instant written and its text: one tuple, replaced whole, for threads."""


def rfc3339(moment: datetime) -> str:
    """``moment`` in UTC as RFC 3339 text ending in ``Z`` (a naive ``moment`` is local time,
    as for ``astimezone``): what ``moment.astimezone(UTC).isoformat()`` gives, with ``Z``
    for ``+00:00``."""
    global _last
    if moment.tzinfo is not UTC:  # a naive one's text follows the process's time zone
        return _written(moment.astimezone(UTC))
    last, text = _last
    if moment is not last:
        text = _written(moment)
        _last = (moment, text)
    return text


def _written(utc: datetime) -> str:
    try:
        return orjson.dumps(utc, option=orjson.OPT_UTC_Z)[1:-1].decode()
    except TypeError:  # orjson refuses subclasses of datetime
        return utc.isoformat().replace("+00:00", "Z")
