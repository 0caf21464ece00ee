"""A management API request its parameters or body refuse: one SCIM 400 naming each field.

Whether FastAPI validated the request (query, path and body parameters) or a handler
validated its own body, the answer has the same shape: ``scimType`` ``invalidValue``
and a detail that names every field with its rule, such as
``Invalid request: name: Field required; count: Input should be less than or equal
to 1000``. A body that is not JSON at all is ``invalidSyntax``.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from scim2_models import InvalidSyntaxException, InvalidValueException, SCIMException

SHOWN = 5
"""Problems named in one answer; more are counted, not listed."""

_NOT_AN_OBJECT = {"model_attributes_type", "dict_type", "model_type"}
"""Pydantic's error types for a body that is JSON but not an object."""


def invalid_request(errors: Sequence[Mapping[str, Any]]) -> SCIMException:
    """The refusal of a request whose validation found ``errors``.

    They are in FastAPI's shape: pydantic's errors, each location led by where the value
    was read (``body``, ``query``, ``path``, ``header``).
    """
    for error in errors:
        if error.get("type") == "json_invalid":  # its location is a character offset
            where = f" (at character {error['loc'][-1]})" if error.get("loc") else ""
            return InvalidSyntaxException(detail=f"Invalid request: the body is not JSON{where}")
    problems = [_problem(error) for error in errors[:SHOWN]]
    if len(errors) > SHOWN:
        problems.append(f"and {len(errors) - SHOWN} more")
    return InvalidValueException(detail=f"Invalid request: {'; '.join(problems)}")


def not_json() -> SCIMException:
    """The refusal of a body a handler could not parse as JSON."""
    return InvalidSyntaxException(detail="Invalid request: the body is not JSON")


def _problem(error: Mapping[str, Any]) -> str:
    """``field: rule`` for one problem; the field is dotted (``retry.after``, ``items.0``)."""
    location = [str(part) for part in error.get("loc", ())][1:]
    if not location:
        if error.get("type") in _NOT_AN_OBJECT:
            return "the body: must be a JSON object"
        return f"the body: {error.get('msg', 'not accepted')}"
    return f"{'.'.join(location)}: {error.get('msg', 'not accepted')}"
