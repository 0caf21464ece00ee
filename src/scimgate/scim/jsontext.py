"""JSON text, fast: orjson where it can handle the value, the standard library where it cannot.

orjson writes and reads JSON several times faster than the ``json`` module, which
shows in every answer and every stored document; it refuses a few things the
``json`` module takes (integers beyond 64 bits, non-string keys), and those few
take the slow way instead of failing.
"""

import json
from typing import Any

import orjson


def dumps(value: Any) -> str:
    """Compact JSON text."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(value, separators=(",", ":"))


def loads(text: str | bytes) -> Any:
    """The value of JSON text; ValueError for text that is not JSON."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
