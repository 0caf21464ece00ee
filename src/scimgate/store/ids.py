"""Server-assigned identifiers and times."""

import os
import time
import uuid
from datetime import UTC, datetime
from threading import Lock

_last = 0
_last_lock = Lock()

_RANDOM_BLOCK = 8 * 512
"""Bytes of randomness drawn from the kernel at once: the random bits of 512 ids.

Each ``os.urandom`` call is a system call, and an id drawn alone cost a SCIM
request several microseconds of CPU per id under load (a lookup makes two, a
create four). The bytes are as random drawn in a block; a forked child drops
the block it inherited (``_after_fork``), so that it never makes the ids its
parent makes."""

_random = b""
_random_at = 0


def _random_62_bits() -> int:
    """62 random bits for the next id; called with ``_last_lock`` held."""
    global _random, _random_at
    if _random_at >= len(_random):
        _random, _random_at = os.urandom(_RANDOM_BLOCK), 0
    drawn = int.from_bytes(_random[_random_at : _random_at + 8], "big") >> 2
    _random_at += 8
    return drawn


def _after_fork() -> None:
    """In a forked child: a block of its own, and the lock free (another thread of the
    parent may have held it when it forked)."""
    global _random, _random_at, _last_lock
    _random, _random_at, _last_lock = b"", 0, Lock()


os.register_at_fork(after_in_child=_after_fork)


def new_id() -> str:
    """Return a time-ordered UUIDv7 (RFC 9562) as a string.

    Ids that grow with time keep the primary-key and ``(directory_id, id)``
    indexes append-mostly, and make ``id`` order creation order, which is the
    order pages come in. Several ids are made within one millisecond, so the 12
    bits after the millisecond hold its fraction (RFC 9562 §6.2, method 3), and
    an id is never below the one made before it in this process.
    """
    global _last
    nanos = time.time_ns()
    millis, fraction = divmod(nanos, 1_000_000)
    value = (millis & (2**48 - 1)) << 80
    value |= (0x7 << 76) | ((fraction * 4096 // 1_000_000) << 64)  # version 7, sub-millisecond
    with _last_lock:
        value |= (0x2 << 62) | _random_62_bits()  # RFC 9562 variant
        if value <= _last:
            value = _last + 1  # the 62 random bits carry: by one in about 2**61 ids
        _last = value
    # What str(uuid.UUID(int=value)) gives, in a third of the time.
    hexed = value.to_bytes(16, "big").hex()
    return f"{hexed[:8]}-{hexed[8:12]}-{hexed[12:16]}-{hexed[16:20]}-{hexed[20:]}"


def is_id(text: str) -> bool:
    """Whether ``text`` is shaped like an id (a UUID), so that it can be looked up as one."""
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def utcnow() -> datetime:
    return datetime.now(UTC)
