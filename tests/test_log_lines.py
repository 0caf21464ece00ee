"""``scimgate.logging.info_line`` writes the line structlog's configured chain writes.

The access line of every request is written by ``info_line``, which skips the chain
while scimgate's JSON configuration is in effect; these tests hold the two ways to the
same lines, key for key and in the same order, whatever the fields and the bound
context variables, and check that any other configuration is left to structlog.
"""

import io
import json
from contextlib import ExitStack
from typing import Any

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from property_support import property_settings
from scimgate.logging import configure, info_line

_logger = structlog.get_logger("scimgate.test")

keys = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=12)
"""Field names: any text a keyword argument can be, the line's own keys among them."""

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
fields = st.dictionaries(
    keys.filter(lambda key: key not in {"event", "stack_info", "exc_info"})
    | st.sampled_from(["level", "timestamp", "request_id", "method", "status"]),
    values,
    max_size=6,
)
bound = st.dictionaries(
    keys.filter(lambda key: key not in {"stack_info", "exc_info"})
    | st.sampled_from(["request_id", "event", "status"]),
    scalars,
    max_size=3,
)


def _both(captured: io.StringIO, event: str, given_fields: dict[str, Any]) -> list[str]:
    captured.seek(0)
    captured.truncate()
    _logger.info(event, **given_fields)
    info_line(_logger, event, **given_fields)
    lines = captured.getvalue().split("\n")  # JSON text may hold other line breaks
    assert len(lines) == 3 and lines[2] == "", lines
    return lines[:2]


def _without_time(line: str) -> list[tuple[str, Any]]:
    """The line's items in order, its time replaced by its shape (and a stack, which names
    the caller, by its first line)."""
    items = list(json.loads(line).items())
    return [
        (
            key,
            _shape(value)
            if key == "timestamp"
            else value.split("\n")[0]
            if key == "stack"
            else value,
        )
        for key, value in items
    ]


def _shape(stamp: str) -> str:
    """An ISO 8601 UTC time's shape, its digits blanked: both ways write the same form."""
    return "".join("0" if char.isdigit() else char for char in stamp)


@given(event=st.text(max_size=20), given_fields=fields, context=bound)
@property_settings(200)
def test_a_line_is_the_one_the_chain_writes(
    json_log: io.StringIO, event: str, given_fields: dict[str, Any], context: dict[str, Any]
) -> None:
    with ExitStack() as stack:
        stack.enter_context(structlog.contextvars.bound_contextvars(**context))
        by_chain, direct = _both(json_log, event, given_fields)
    assert _without_time(direct) == _without_time(by_chain)


def test_the_access_line_of_a_request_has_the_chains_form(json_log: io.StringIO) -> None:
    with structlog.contextvars.bound_contextvars(request_id="r-1"):
        by_chain, direct = _both(
            json_log,
            "request",
            {"method": "GET", "path": "/scim/v2/x/Users", "status": 200, "latency_ms": 1.5},
        )
    assert _without_time(direct) == _without_time(by_chain)
    assert json.loads(direct)["timestamp"].endswith("Z")
    assert list(json.loads(direct))[-3:] == ["request_id", "level", "timestamp"]


def test_values_the_renderer_cannot_serialize_are_written_as_the_chain_writes_them(
    json_log: io.StringIO,
) -> None:
    odd = {"when": object(), "big": 2**70, "keyed": {1: "one"}}
    by_chain, direct = _both(json_log, "odd", odd)
    assert _without_time(direct) == _without_time(by_chain)


@pytest.mark.parametrize("extra", [{"stack_info": True}, {"exc_info": False}])
def test_what_the_chain_renders_itself_is_left_to_it(
    json_log: io.StringIO, extra: dict[str, Any]
) -> None:
    by_chain, direct = _both(json_log, "with extras", extra)
    assert _without_time(direct) == _without_time(by_chain)


def test_any_other_configuration_is_left_to_structlog() -> None:
    captured = io.StringIO()
    configure(json=True, stream=io.StringIO())
    structlog.configure(
        processors=[structlog.processors.KeyValueRenderer(key_order=["event"])],
        logger_factory=structlog.PrintLoggerFactory(captured),
    )
    try:
        info_line(_logger, "request", status=200)
        assert captured.getvalue() == "event='request' status=200\n"
        configure(json=False, stream=captured)
        captured.seek(0)
        captured.truncate()
        info_line(_logger, "request", status=200)
        assert "request" in captured.getvalue() and not captured.getvalue().startswith("{")
    finally:
        structlog.reset_defaults()
