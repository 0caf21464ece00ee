"""RFC 9865 cursors as pure functions: what a cursor names, and which strings are refused."""

import base64
import uuid

import pytest
from scim2_models import InvalidCursorException

from scimgate.scim.cursors import MAX_OFFSET_DIGITS, Position, decode_cursor, encode_cursor


def _opaque(text: str) -> str:
    """``text`` as a cursor carries it: unpadded URL-safe base64."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "position",
    [
        Position(after_id=str(uuid.uuid4())),
        Position(after_id="018f2b3c-0000-7000-8000-000000000001"),
        Position(offset=0),
        Position(offset=1),
        Position(offset=100),
        Position(offset=10**MAX_OFFSET_DIGITS - 1),
    ],
    ids=["random id", "time-ordered id", "offset 0", "offset 1", "offset 100", "largest offset"],
)
def test_a_cursor_names_the_position_it_was_made_for(position: Position) -> None:
    assert decode_cursor(encode_cursor(position)) == position


def test_a_cursor_is_url_safe_and_unpadded() -> None:
    for position in (Position(after_id=str(uuid.uuid4())), Position(offset=12345)):
        cursor = encode_cursor(position)
        assert "=" not in cursor
        assert set(cursor) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        )


def test_a_cursor_is_the_text_of_its_position() -> None:
    after = "018f2b3c-0000-7000-8000-000000000001"
    assert encode_cursor(Position(after_id=after)) == _opaque(f"k:{after}")
    assert encode_cursor(Position(offset=40)) == _opaque("o:40")


def test_the_empty_cursor_starts_at_the_beginning() -> None:
    assert decode_cursor("") == Position()
    assert decode_cursor("") == Position(offset=0, after_id=None)


def test_an_id_is_read_in_its_canonical_spelling() -> None:
    after = uuid.uuid4()
    assert decode_cursor(_opaque(f"k:{after.hex}")) == Position(after_id=str(after))


@pytest.mark.parametrize(
    "cursor",
    [
        "bm90LWEtY3Vyc29y",  # "not-a-cursor"
        _opaque("k:not-a-uuid"),
        _opaque("k:"),
        _opaque("o:"),
        _opaque("o:-1"),
        _opaque("o:1.5"),
        _opaque("o: 7"),
        _opaque("o:١٢"),  # digits, but not ASCII ones
        _opaque("o:" + "9" * (MAX_OFFSET_DIGITS + 1)),
        _opaque("x:12"),
        _opaque("12"),
        "a",  # not base64 of anything
        "____",  # bytes that are not UTF-8
        "%%%",
    ],
    ids=[
        "foreign",
        "bad id",
        "no id",
        "no offset",
        "negative offset",
        "fractional offset",
        "spaced offset",
        "non-ascii digits",
        "offset too long",
        "unknown kind",
        "no kind",
        "truncated base64",
        "not utf-8",
        "not base64",
    ],
)
def test_a_cursor_this_server_did_not_issue_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursorException) as refused:
        decode_cursor(cursor)
    assert refused.value.detail == (
        f"cursor {cursor!r} is not one this server issued; start again with cursor="
    )
    assert refused.value.scim_type == "invalidCursor"


def test_the_longest_offset_fits_a_64_bit_offset() -> None:
    largest = decode_cursor(_opaque("o:" + "9" * MAX_OFFSET_DIGITS))
    assert largest == Position(offset=10**MAX_OFFSET_DIGITS - 1)
    assert largest.offset < 2**63
