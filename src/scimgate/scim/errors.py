"""Turning a payload the models refused into one precise SCIM error (RFC 7644 §3.12)."""

from typing import Any

from pydantic import ValidationError
from scim2_models import Error, SCIMException


def from_validation_error(exc: ValidationError, what: str) -> SCIMException:
    """The SCIM error for a refused payload, naming every problem found.

    The status and ``scimType`` are those of the first problem. ``what`` says
    what was being read ("user", "PATCH request") so that the detail tells an
    IT admin where to look. Attributes are named as SCIM spells them.
    """
    errors = Error.from_validation_errors([_scim_spelling(error) for error in exc.errors()])
    details = "; ".join(error.detail or "" for error in errors)
    first = errors[0]
    return SCIMException.from_error(
        Error(status=first.status, scim_type=first.scim_type, detail=f"Invalid {what}: {details}")
    )


def _scim_spelling(error: Any) -> Any:
    """An error whose location names attributes in SCIM's camelCase, not Python's snake_case.

    A model validated from Python (a PATCH being applied) reports its field
    names; every SCIM attribute name is the camelCase form of one.
    """
    return {**error, "loc": tuple(_camel(part) for part in error["loc"])}


def _camel(part: Any) -> Any:
    if not isinstance(part, str) or "_" not in part or ":" in part:
        return part
    head, *rest = part.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)
