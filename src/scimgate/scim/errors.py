"""Turning a payload the models refused into one precise SCIM error (RFC 7644 §3.12)."""

import math
import re
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
    detail = f"Invalid {what}: {details}{_unknown_schema_hint(details)}"
    return SCIMException.from_error(
        Error(status=first.status, scim_type=first.scim_type, detail=detail)
    )


_UNKNOWN_MARKERS = ("Extra inputs are not permitted", "is not an attribute", "is not declared")
_URN = re.compile(r"urn:[^\s']+", re.IGNORECASE)


def _unknown_schema_hint(details: str) -> str:
    """What to do about a URN-qualified attribute the directory does not know.

    IdPs send custom attributes under their own URNs; the server accepts them
    once the application's administrator has registered that schema.
    """
    urn = _URN.search(details)
    if urn is None or not any(marker in details for marker in _UNKNOWN_MARKERS):
        return ""
    return (
        f". {urn[0]} is not an attribute of any schema of this directory: if it is a custom "
        "attribute, have its extension schema registered for the directory, or remove it "
        "from the IdP's attribute mappings"
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


class RetryLater(SCIMException):
    """A refusal the client should retry after ``retry_after`` seconds (``Retry-After``)."""

    def __init__(self, *, retry_after: float, detail: str) -> None:
        super().__init__(detail=detail)
        self.retry_after = max(1, math.ceil(retry_after))
        """Whole seconds, as ``Retry-After`` carries them (RFC 9110 §10.2.3)."""


class TooManyRequests(RetryLater):
    """The client went over its rate limit (RFC 6585 §4): 429, which every IdP backs off from."""

    status = 429


class ServiceBusy(RetryLater):
    """The service cannot take the request now, though the client did nothing wrong: 503."""

    status = 503
