"""The provisioning log's depth check says a body nests too deep exactly when it does.

A body nested deeper than ``MAX_DEPTH`` is kept as a note, not scrubbed and stored
(``tests/test_log_hostile_bodies.py``). The check walks arrays and objects only; it
must agree with the plain definition of a value's depth for any JSON value.
"""

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from property_support import property_settings
from scimgate.service.operations.provisioning_log import _nests_deeper

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=2), children, max_size=3)
    ),
    max_leaves=40,
)


def depth(value: Any) -> int:
    """Arrays and objects within each other: 0 for anything else, 1 for ``[]``."""
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


def nested(value: Any, levels: int) -> Any:
    for level in range(levels):
        value = [value] if level % 2 else {"a": value}
    return value


@property_settings(500)
@given(JSON, st.integers(min_value=0, max_value=8))
def test_the_check_agrees_with_the_depth(value: Any, limit: int) -> None:
    assert _nests_deeper(value, limit) == (depth(value) > limit)


@property_settings(100)
@given(JSON, st.integers(min_value=60, max_value=70))
def test_at_the_log_s_own_limit(value: Any, levels: int) -> None:
    deep = nested(value, levels)
    assert _nests_deeper(deep, 64) == (depth(deep) > 64)
