"""RFC 9865 cursors: where the next page of a listing starts, as an opaque string.

A cursor names one of two positions: after an id, for walks in id order
(keyset), or at an offset, for sorted walks. It is the position's text,
``k:<uuid>`` or ``o:<digits>``, in unpadded URL-safe base64. A string that
does not decode to one of these (a foreign or altered cursor) is refused with
``invalidCursor``; the empty cursor starts a walk from the first resource.
"""

import base64
import binascii
import uuid

from scim2_models import InvalidCursorException

from scimgate.records import frozen

MAX_OFFSET_DIGITS = 18
"""The longest offset a cursor may hold: 18 digits stay within a 64-bit OFFSET."""


@frozen
class Position:
    """Where a page starts: after an id in id order (keyset), or at an offset."""

    offset: int = 0
    after_id: str | None = None


def encode_cursor(position: Position) -> str:
    """An opaque RFC 9865 cursor for the page starting at a position."""
    text = f"k:{position.after_id}" if position.after_id else f"o:{position.offset}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    """The position a cursor names; the empty cursor starts a cursor walk."""
    if cursor == "":
        return Position()
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind == "k":
            return Position(after_id=str(uuid.UUID(value)))
        if kind == "o" and value.isascii() and value.isdigit() and len(value) <= MAX_OFFSET_DIGITS:
            return Position(offset=int(value))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        pass
    raise InvalidCursorException(
        detail=f"cursor {cursor!r} is not one this server issued; start again with cursor="
    )
