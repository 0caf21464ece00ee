"""The SCIM refusal answering an error of a lower layer: mapped here, once, for every route.

The SCIM endpoints and the management API answer in the same SCIM error envelope
(``api.responses.error_response``). What they refuse is raised as a SCIM exception by
the use cases, or as the store's ``Busy``, which this module words for an HTTP client.
"""

from scim2_models import SCIMException

from scimgate.scim.errors import ServiceBusy
from scimgate.store.errors import Busy

Refusal = SCIMException | Busy
"""What an HTTP edge answers with a SCIM error envelope."""

REFUSALS = (SCIMException, Busy)
"""The same, for ``except`` clauses and exception handlers."""


def as_scim(exc: Refusal) -> SCIMException:
    """The SCIM exception whose envelope answers ``exc``."""
    if isinstance(exc, Busy):
        return ServiceBusy(retry_after=exc.retry_after, detail=exc.detail)
    return exc
