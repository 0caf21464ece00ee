"""``scimgate webhooks …`` and ``scimgate worker``: endpoints, deliveries, the delivery worker."""

import typer

webhooks_app = typer.Typer(help="Webhook endpoints: where events are delivered, signed.")


def worker() -> None:
    """Deliver webhooks and run upkeep (retention, overdue alerts) until stopped."""
    raise NotImplementedError
