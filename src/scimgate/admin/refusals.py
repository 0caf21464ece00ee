"""Refused credentials in the portal: paced by client address, counted in the audit log."""

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import Engine

from scimgate.api.clients import client_address
from scimgate.scim.errors import TooManyRequests
from scimgate.service.administration import audit
from scimgate.service.provisioning.rate_limits import RateLimiter


def refused(
    request: Request, engine: Engine, action: str | None, reason: str
) -> TooManyRequests | None:
    """Take a refusal from its client address's bucket, and audit it when ``action`` names it.

    Returns the 429 to answer instead of the refusal once the address is over its limit.
    Blocking: call it from a worker thread.
    """
    limiter: RateLimiter = request.app.state.rate_limiter
    client = client_address(request.scope)
    too_many: TooManyRequests | None = None
    try:
        limiter.check_refused(client)
    except TooManyRequests as exc:
        too_many = exc
    if action is not None:
        detail = too_many.detail if too_many is not None else reason
        audit.record_refusal(engine, audit.Refusal(client, action, detail or reason))
    return too_many


def retry_later(response: Response, too_many: TooManyRequests) -> Response:
    response.headers["Retry-After"] = str(too_many.retry_after)
    return response
