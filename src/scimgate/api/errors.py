"""The SCIM refusal answering an error of a lower layer: mapped here, once, for every route.

The SCIM endpoints and the management API answer in the same SCIM error envelope
(``api.responses.error_response``). What they refuse is raised as a SCIM exception by
the SCIM use cases, or as an error of the service (``service.errors``) or the store's
``Busy``, which this module words for an HTTP client.
"""

from scim2_models import (
    ConflictException,
    InvalidPathException,
    InvalidValueException,
    NotFoundException,
    SCIMException,
    UniquenessException,
)

from scimgate.scim.errors import ServiceBusy
from scimgate.service.errors import (
    Conflict,
    Invalid,
    InvalidPath,
    NotFound,
    NotUnique,
    ServiceError,
    UnknownAssignmentGroup,
)
from scimgate.store.errors import Busy

Refusal = SCIMException | ServiceError | Busy
"""What an HTTP edge answers with a SCIM error envelope."""

REFUSALS = (SCIMException, ServiceError, Busy)
"""The same, for ``except`` clauses and exception handlers."""


def as_scim(exc: Refusal) -> SCIMException:
    """The SCIM exception whose envelope answers ``exc``."""
    if isinstance(exc, SCIMException):
        return exc
    if isinstance(exc, Busy):
        return ServiceBusy(retry_after=exc.retry_after, detail=exc.detail)
    if isinstance(exc, NotFound):
        return NotFoundException(detail=_sentence(str(exc)))
    if isinstance(exc, UnknownAssignmentGroup):
        return InvalidValueException(detail=f"assignment_group: no group named {exc.group_name!r}")
    if isinstance(exc, InvalidPath):
        return InvalidPathException(detail=exc.detail)
    if isinstance(exc, Invalid):
        detail = f"{exc.subject}: {exc.detail}" if exc.subject else exc.detail
        return InvalidValueException(detail=detail)
    if isinstance(exc, NotUnique):
        return UniquenessException(detail=str(exc))
    if isinstance(exc, Conflict):
        return ConflictException(detail=str(exc))
    raise TypeError(f"no SCIM refusal for {type(exc).__name__}") from exc


def _sentence(text: str) -> str:
    """``No directory …``: the service's message begun as a sentence."""
    return text[:1].upper() + text[1:]
