"""An event's payload as the JSON it is stored as, written straight from its model.

Every change records an event, and a member change one per member, each carrying
the normalized user with its raw SCIM document. Pydantic's ``model_dump(mode="json")``
walks that document value by value to make a dict that is then written as text
(about 8 µs for a membership event, both steps timed alone). orjson writes the same
text from the model's dataclasses in about a third of that: the payload is kept as
that text (an ``orjson.Fragment``), which the store writes as it is.

orjson and pydantic write the same JSON for what payloads hold: strings,
numbers, booleans, null, lists, string-keyed objects, dataclasses (fields in
order) and string enums (their values). For anything else (a ``datetime``, an
integer beyond 64 bits, a key that is not a string) orjson is not trusted to
agree, and the payload takes pydantic's path instead.
"""

from typing import Any

import orjson
from pydantic import BaseModel

Payload = dict[str, Any] | orjson.Fragment
"""An event's ``data``: JSON values, or the JSON text of them."""

_ONLY_PLAIN = orjson.OPT_PASSTHROUGH_DATETIME
"""Datetimes are handed to ``_fields``, which refuses them: pydantic's path writes them."""


def encoded(data: BaseModel) -> Payload:
    """The payload's JSON text, or, for what orjson might write otherwise than pydantic,
    its JSON values as pydantic dumps them."""
    try:
        return orjson.Fragment(orjson.dumps(data, default=_fields, option=_ONLY_PLAIN))
    except TypeError:  # orjson.JSONEncodeError is one
        dumped: dict[str, Any] = data.model_dump(mode="json")
        return dumped


def _fields(value: Any) -> dict[str, Any]:
    """A payload model's fields in order, as ``model_dump`` lists them; anything else refused."""
    if isinstance(value, BaseModel):
        return {name: getattr(value, name) for name in type(value).model_fields}
    raise TypeError(f"not written by orjson: {type(value).__name__}")
