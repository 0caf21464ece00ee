"""``scimgate logs``: the provisioning log, for support staff explaining a failed sync."""

import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from scimgate.cli.common import DatabaseOption, add_row, console, engine_for, shown, to_the_second
from scimgate.cli.json_output import JsonOption, print_json
from scimgate.service.operations import provisioning_log
from scimgate.service.operations.provisioning_log import as_dict
from scimgate.store.provisioning_logs import LogEntry

logs_app = typer.Typer(help="The provisioning log: what each IdP sent, and why it failed.")


@logs_app.command("list")
def list_logs(
    directory_id: Annotated[str, typer.Argument(help="The directory whose log to show")],
    status: Annotated[str | None, typer.Option(help="A status (409) or class (4xx)")] = None,
    user: Annotated[str | None, typer.Option(help="A userName or user id")] = None,
    since: Annotated[datetime | None, typer.Option(help="Only entries from this time (UTC)")] = (
        None
    ),
    limit: Annotated[int, typer.Option(help="Entries to show")] = 50,
    as_json: JsonOption = False,
    database_url: DatabaseOption = None,
) -> None:
    """The directory's latest requests, newest first, with the diagnosis of each failure."""
    page = provisioning_log.search(
        engine_for(database_url),
        directory_id,
        limit=limit,
        status=status,
        user=user,
        since=_utc(since),
    )
    if as_json:
        print_json([as_dict(found, bodies=False) for found in page.entries])
        return
    table = Table("received", "request", "status", "ms", "resource", "userName", "diagnosis")
    for found in page.entries:
        add_row(
            table,
            to_the_second(found.received_at),
            f"{found.method} {found.path}",
            str(found.status),
            str(found.latency_ms),
            f"{found.resource_type or ''} {found.resource_id or ''}".strip(),
            found.user_name or "",
            found.diagnosis or "",
        )
    console.print(table)


@logs_app.command("show")
def show_log(
    key: Annotated[str, typer.Argument(help="A log entry id or a request id")],
    as_json: JsonOption = False,
    database_url: DatabaseOption = None,
) -> None:
    """One entry with its bodies and diagnosis."""
    found = provisioning_log.find(engine_for(database_url), key)
    if found is None:
        raise typer.BadParameter(f"No log entry or request {key}")
    if as_json:
        print_json(as_dict(found, bodies=True))
        return
    _print_entry(found)


def _print_entry(found: LogEntry) -> None:
    table = Table("field", "value", show_header=False)
    for name, value in as_dict(found, bodies=False).items():
        if value is not None:
            add_row(table, name, str(value))
    console.print(table)
    for title, body in (("Request", found.request_body), ("Response", found.response_body)):
        if body is not None:
            console.print(f"[bold]{title} body[/bold]")
            console.print(shown(json.dumps(body, indent=2, ensure_ascii=False)))


def _utc(at: datetime | None) -> datetime | None:
    """A time given without a zone is UTC, as every time scimgate shows."""
    if at is None or at.tzinfo is not None:
        return at
    return at.replace(tzinfo=UTC)
