"""Which webhook endpoints are failing: their waiting deliveries have failed at least once.

An enabled endpoint that answers 500 is not healthy because it is enabled; the portal shows
the failures beside the state, on the endpoint's page, in the list and on the dashboard.
"""

from sqlalchemy import Engine

from scimgate.records import frozen
from scimgate.service.event_stream import webhooks
from scimgate.service.event_stream.webhooks import EndpointInfo
from scimgate.store import webhook_deliveries
from scimgate.store.transactions import reading
from scimgate.store.webhook_deliveries import Failing


@frozen
class FailingEndpoint:
    endpoint: EndpointInfo
    failing: Failing


def failing(engine: Engine, endpoint_id: str) -> Failing | None:
    """The endpoint's failing deliveries, or None when none has failed."""
    with reading(engine) as conn:
        found = webhook_deliveries.failing(conn, [endpoint_id])
    return found[0] if found else None


def failing_endpoints(engine: Engine) -> list[FailingEndpoint]:
    """Every endpoint with failing deliveries, the most failed attempts first."""
    with reading(engine) as conn:
        found = {each.endpoint_id: each for each in webhook_deliveries.failing(conn)}
    if not found:
        return []
    endpoints = [each for each in webhooks.list_endpoints(engine) if each.id in found]
    listed = [FailingEndpoint(each, found[each.id]) for each in endpoints]
    return sorted(listed, key=lambda each: -each.failing.most_attempts)
