"""The quick check for plain e-mail addresses gives the parser's answer, never another.

Every user's event payload says which of its e-mails are undeliverable; the
quick check answers for the common address and leaves the rest to the parser,
so where it says yes the parser must too.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic.networks import validate_email
from pydantic_core import PydanticCustomError

from property_support import property_settings
from scimgate.scim.email_address import is_address, plain_address


def _parses(value: str) -> bool:
    try:
        validate_email(value)
    except PydanticCustomError:
        return False
    return True


_LABELS = st.sampled_from(
    [
        "example",
        "com",
        "b",
        "a1",
        "ab--c",
        "xn--bcher-kva",
        "test",
        "localhost",
        "local",
        "arpa",
        "onion",
        "invalid",
        "1",
        "9z",
        "Mail",
        "-a",
        "a-",
        "a-b",
        "co",
        "x" * 64,
    ]
)
_LOCALS = st.text(alphabet='aZ09._+-!#~ @"', min_size=0, max_size=12) | st.just("l" * 65)


@st.composite
def _addresses(draw: st.DrawFn) -> str:
    local = draw(_LOCALS)
    labels = draw(st.lists(_LABELS, min_size=0, max_size=5))
    return f"{local}@{'.'.join(labels)}"


_TEXTS = st.text(alphabet="abZ09.-_+@ ", max_size=30)


@given(st.one_of(_addresses(), _TEXTS))
@property_settings(3000)
def test_what_the_quick_check_takes_the_parser_takes(value: str) -> None:
    if plain_address(value):
        assert _parses(value), value
    assert is_address(value) == _parses(value), value


@pytest.mark.parametrize(
    "value",
    ["ada@example.com", "a.b+c_d-e@mail.example.org", "first.last@sub.domain.example.co"],
)
def test_a_plain_address_is_known_without_the_parser(value: str) -> None:
    assert plain_address(value)


@pytest.mark.parametrize(
    "value",
    [
        "Ada@Example.com",
        "ada@localhost",
        "ada@xn--bcher-kva.example",
        "ada@ab--c.example",
        "ada@example.c0m",
        " ada@example.com",
        f"{'a' * 65}@example.com",
        f"ada@{'x' * 64}.com",
        "Ada Lovelace",
    ],
)
def test_anything_else_is_left_to_the_parser(value: str) -> None:
    assert not plain_address(value)
    assert is_address(value) == _parses(value)
