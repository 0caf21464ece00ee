"""UTC instants as RFC 3339 text, written by orjson.

Every answer, event and access line writes a few of these. On Python 3.11
``datetime.isoformat`` formats through ``PyUnicode_FromFormat`` and costs about
a microsecond; orjson writes the same text in a third of that. Both give the
same text (``tests/scim/test_instants.py``).
"""

from datetime import UTC, datetime

import orjson


def rfc3339(moment: datetime) -> str:
    """``moment`` in UTC as RFC 3339 text ending in ``Z`` (a naive ``moment`` is local time,
    as for ``astimezone``): what ``moment.astimezone(UTC).isoformat()`` gives, with ``Z``
    for ``+00:00``."""
    utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    try:
        return orjson.dumps(utc, option=orjson.OPT_UTC_Z)[1:-1].decode()
    except TypeError:  # orjson refuses subclasses of datetime
        return utc.isoformat().replace("+00:00", "Z")
