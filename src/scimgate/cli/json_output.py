"""``--json``: the one convention of every command's output for scripts.

A command prints one JSON document: an array for a listing, an object for one
thing. Field names and ids are the management API's; times are RFC 3339 in UTC
(``2026-12-04T11:33:01.840005Z``). The one stream is ``events list --follow
--json``, which prints an object per line as events arrive (:func:`print_json_line`).
"""

import json
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import typer
from pydantic import BaseModel

from scimgate.scim.instants import rfc3339

JsonOption = Annotated[
    bool,
    typer.Option("--json", help="Print one JSON document (a listing: an array), for scripts"),
]


def jsonable(value: Any) -> Any:
    """``value`` in JSON's types: dataclasses and pydantic models as objects of their fields,
    datetimes as RFC 3339 UTC, enums as their values."""
    if isinstance(value, BaseModel):
        value = value.model_dump()
    elif is_dataclass(value) and not isinstance(value, type):
        value = {field.name: getattr(value, field.name) for field in fields(value)}
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, Enum):
        return jsonable(value.value)
    return value


def print_json(value: Any) -> None:
    """Print ``value`` as one indented JSON document."""
    print(json.dumps(jsonable(value), indent=2))


def print_json_line(value: Any) -> None:
    """Print ``value`` as one line of JSON, at once: an item of a stream."""
    print(json.dumps(jsonable(value)), flush=True)
