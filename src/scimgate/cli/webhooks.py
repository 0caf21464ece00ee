"""``scimgate webhooks …`` and ``scimgate worker``: endpoints, deliveries, the delivery worker."""

import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.table import Table

from scimgate.cli.common import (
    DatabaseOption,
    OrgHelp,
    add_row,
    console,
    engine_for,
    organization_of,
    settings_for,
    to_the_second,
)
from scimgate.cli.json_output import JsonOption, print_json
from scimgate.logging import configure as configure_logging
from scimgate.service.event_stream import webhooks
from scimgate.service.event_stream import worker as delivery_worker
from scimgate.service.event_stream.webhooks import EndpointInfo, WithSecret
from scimgate.wording import counted

webhooks_app = typer.Typer(help="Webhook endpoints: where events are delivered, signed.")

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Record = TypeVar("Record", bound="DataclassInstance")


@webhooks_app.command("create")
def create(
    url: str,
    org: Annotated[
        str | None, typer.Option("--org", help=f"{OrgHelp}; default: every organization")
    ] = None,
    event_type: Annotated[
        list[str] | None, typer.Option("--type", help="An event type to send (repeat); default all")
    ] = None,
    revocation_hook: Annotated[
        bool,
        typer.Option(
            "--revocation-hook", help="A 2xx answer confirms the app revoked a user's access"
        ),
    ] = False,
    description: Annotated[str, typer.Option(help="What the endpoint is for")] = "",
    as_json: JsonOption = False,
    database_url: DatabaseOption = None,
) -> None:
    """Register an endpoint for URL and print its signing secret (shown this once)."""
    allowed = settings_for(database_url).events.webhook_allowed_hosts
    engine = engine_for(database_url)
    created = webhooks.register(
        engine,
        url,
        allowed=allowed,
        organization_id=organization_of(engine, org).id if org else None,
        event_types=event_type or [],
        description=description,
        revocation_hook=revocation_hook,
    )
    _print_secret(created, as_json)


@webhooks_app.command("list")
def list_endpoints(
    org: Annotated[
        str | None,
        typer.Option("--org", help=f"Only endpoints receiving this organization's ({OrgHelp})"),
    ] = None,
    as_json: JsonOption = False,
    database_url: DatabaseOption = None,
) -> None:
    """List endpoints (never their secrets)."""
    engine = engine_for(database_url)
    found = webhooks.list_endpoints(engine, organization_of(engine, org).id if org else None)
    table = _table_with_ids("url", "organization", "types", "state", "secrets", "created")
    _print_records(
        found,
        as_json,
        table,
        lambda each: (
            each.url,
            each.organization_id or "all",
            ", ".join(each.event_types) or "all",
            _state(each),
            str(len(each.secrets)),
            to_the_second(each.created_at),
            each.id,
        ),
    )


@webhooks_app.command("remove")
def remove(endpoint_id: str, database_url: DatabaseOption = None) -> None:
    """Remove an endpoint with its deliveries and their attempts."""
    webhooks.remove(engine_for(database_url), endpoint_id)
    console.print(f"Removed {endpoint_id}.")


@webhooks_app.command("disable")
def disable(
    endpoint_id: str,
    reason: Annotated[str | None, typer.Option(help="Why, for whoever looks next")] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Stop delivering to an endpoint; its events wait for it meanwhile."""
    _print_state(webhooks.disable(engine_for(database_url), endpoint_id, reason))


@webhooks_app.command("enable")
def enable(endpoint_id: str, database_url: DatabaseOption = None) -> None:
    """Turn an endpoint back on: what waited for it is delivered, in order."""
    _print_state(webhooks.enable(engine_for(database_url), endpoint_id))


@webhooks_app.command("rotate-secret")
def rotate_secret(
    endpoint_id: str,
    overlap_hours: Annotated[
        float, typer.Option(help="How long the current secret keeps signing")
    ] = 24.0,
    as_json: JsonOption = False,
    database_url: DatabaseOption = None,
) -> None:
    """Make a new signing secret (shown this once); both sign during the overlap."""
    rotated = webhooks.rotate_secret(
        engine_for(database_url), endpoint_id, timedelta(hours=overlap_hours)
    )
    _print_secret(rotated, as_json)


@webhooks_app.command("deliveries")
def deliveries(
    endpoint_id: str,
    status: Annotated[
        str | None, typer.Option(help="pending, delivered or expired; default all")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many")] = 100,
    as_json: JsonOption = False,
    database_url: DatabaseOption = None,
) -> None:
    """An endpoint's deliveries, newest event first."""
    found = webhooks.deliveries(engine_for(database_url), endpoint_id, status, limit)
    table = _table_with_ids("sequence", "event", "directory", "status", "attempts", "next attempt")
    _print_records(
        found,
        as_json,
        table,
        lambda each: (
            str(each.event_seq),
            each.event_id,
            each.directory_id,
            each.status,
            str(each.attempts),
            to_the_second(each.next_attempt_at) if each.status == "pending" else "",
            each.id,
        ),
    )


@webhooks_app.command("attempts")
def attempts(
    delivery_id: str, as_json: JsonOption = False, database_url: DatabaseOption = None
) -> None:
    """Every attempt of a delivery: the answer or error, and how long it took."""
    found = webhooks.attempts(engine_for(database_url), delivery_id)
    table = Table("at", "status", "latency ms", "error", "response")
    _print_records(
        found,
        as_json,
        table,
        lambda each: (
            to_the_second(each.attempted_at),
            str(each.status_code) if each.status_code is not None else "",
            str(each.latency_ms),
            each.error or "",
            (each.response_excerpt or "")[:80],
        ),
    )


@webhooks_app.command("replay")
def replay(delivery_id: str, database_url: DatabaseOption = None) -> None:
    """Send a delivery's event again (same webhook-id), as a new delivery."""
    again = webhooks.replay(engine_for(database_url), delivery_id)
    console.print(f"Queued delivery {again.id} of event {again.event_id}.")


@webhooks_app.command("retry")
def retry_now(delivery_id: str, database_url: DatabaseOption = None) -> None:
    """Attempt a waiting (failing) delivery now instead of at its next scheduled retry."""
    found = webhooks.retry_now(engine_for(database_url), delivery_id)
    console.print(f"Delivery {found.id} of event {found.event_id} is due now.")


@webhooks_app.command("replay-range")
def replay_range(
    endpoint_id: str,
    since: Annotated[
        datetime | None, typer.Option(help="Events that occurred from this time (UTC)")
    ] = None,
    until: Annotated[datetime | None, typer.Option(help="...and before this time (UTC)")] = None,
    from_sequence: Annotated[
        int | None, typer.Option(help="Or: events from this sequence number")
    ] = None,
    to_sequence: Annotated[int | None, typer.Option(help="...through this one")] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Send again the endpoint's events in a time range or a sequence range, in order."""
    done = webhooks.replay_range(
        engine_for(database_url),
        endpoint_id,
        since=_utc(since),
        until=_utc(until),
        from_sequence=from_sequence,
        to_sequence=to_sequence,
    )
    console.print(
        f"Queued {counted(done.replayed, 'event')}; {done.already_pending} "
        "were waiting for delivery already."
    )


def worker(database_url: DatabaseOption = None) -> None:
    """Deliver webhooks and run upkeep (retention, overdue alerts) until stopped."""
    configure_logging(json=not sys.stderr.isatty())
    stopping = threading.Event()

    def stop(_signal: int, _frame: FrameType | None) -> None:
        stopping.set()

    built = delivery_worker.build(settings_for(database_url))
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    delivery_worker.run_built(built, stopping)


def _print_secret(issued: WithSecret, as_json: bool) -> None:
    if as_json:
        print_json({**asdict(issued.endpoint), "secret": issued.secret})
        return
    console.print(f"Endpoint:       {issued.endpoint.id} ({issued.endpoint.url})")
    console.print(f"Signing secret: {issued.secret}")
    console.print("The secret is shown once; verify deliveries with it (Standard Webhooks).")


def _table_with_ids(*headings: str) -> Table:
    """A table whose last column holds ids, kept whole."""
    table = Table(*headings)
    table.add_column("id", no_wrap=True, min_width=36)
    return table


def _print_records(
    found: Sequence[Record],
    as_json: bool,
    table: Table,
    cells: Callable[[Record], tuple[object, ...]],
) -> None:
    """Records as a JSON array, or as the rows of ``table``."""
    if as_json:
        print_json(found)
        return
    for each in found:
        add_row(table, *cells(each))
    console.print(table)


def _print_state(endpoint: EndpointInfo) -> None:
    console.print(f"{endpoint.url}: {_state(endpoint)}")


def _state(endpoint: EndpointInfo) -> str:
    if endpoint.enabled:
        return "enabled"
    return f"disabled: {endpoint.disabled_reason}" if endpoint.disabled_reason else "disabled"


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
