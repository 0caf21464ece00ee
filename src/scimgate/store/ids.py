"""Server-assigned identifiers and times."""

import os
import time
import uuid
from datetime import UTC, datetime


def new_id() -> str:
    """Return a time-ordered UUIDv7 (RFC 9562) as a string.

    Ids that grow with time keep the primary-key and ``(directory_id, id)``
    indexes append-mostly, and make ``id`` order creation order, which is the
    order pages come in.
    """
    millis = time.time_ns() // 1_000_000
    value = (millis & (2**48 - 1)) << 80
    value |= int.from_bytes(os.urandom(10), "big") & ((1 << 80) - 1)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 9562 variant
    return str(uuid.UUID(int=value))


def utcnow() -> datetime:
    return datetime.now(UTC)
