"""Turning a payload the models refused into one precise SCIM error (RFC 7644 §3.12)."""

from pydantic import ValidationError
from scim2_models import Error, SCIMException


def from_validation_error(exc: ValidationError, what: str) -> SCIMException:
    """The SCIM error for a refused payload, naming every problem found.

    The status and ``scimType`` are those of the first problem. ``what`` says
    what was being read ("user", "PATCH request") so that the detail tells an
    IT admin where to look.
    """
    errors = Error.from_validation_errors(exc)
    details = "; ".join(error.detail or "" for error in errors)
    first = errors[0]
    return SCIMException.from_error(
        Error(status=first.status, scim_type=first.scim_type, detail=f"Invalid {what}: {details}")
    )
