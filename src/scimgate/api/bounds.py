"""Validated types for the management API's numbers and times: out of range names the field.

Every number a route takes has both ends bounded by what its column or its
arithmetic holds, floats refuse NaN and infinities, and times are moved to UTC
and refused when that leaves the calendar (``scimgate.service.provisioning.bounds``).
"""

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field

from scimgate.service.provisioning.bounds import INT32_MAX, INT64_MAX, utc_instant

UtcDateTime = Annotated[datetime, AfterValidator(utc_instant)]
"""A time with or without an offset (none means UTC), as an aware UTC instant."""

Sequence = Annotated[int, Field(ge=1, le=INT64_MAX)]
"""An event's sequence number."""

Count32 = Annotated[int, Field(ge=0, le=INT32_MAX)]
"""A count kept in an ``Integer`` column."""

MAX_OVERLAP_HOURS = 24 * 365
OverlapHours = Annotated[float, Field(ge=0, le=MAX_OVERLAP_HOURS, allow_inf_nan=False)]
"""How long a replaced webhook secret keeps signing: up to a year."""

AgeHours = Annotated[float, Field(ge=0, le=24 * 366 * 9000, allow_inf_nan=False)]
"""An age in hours that stays inside the calendar when taken from now."""
