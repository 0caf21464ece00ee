"""``scimgate events``, ``held`` and ``offboarding``: the event stream as an operator sees it."""

import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine

from scimgate.cli.common import (
    DatabaseOption,
    OrgHelp,
    add_row,
    console,
    engine_for,
    organization_of,
    shown,
    to_the_second,
)
from scimgate.cli.json_output import JsonOption, print_json, print_json_line
from scimgate.events.report import offboarding_csv
from scimgate.events.schema import event_schema_text
from scimgate.service.event_stream import event_feed, publishing
from scimgate.service.event_stream.event_feed import CursorExpired, EventFilter, EventPage
from scimgate.wording import counted

events_app = typer.Typer(help="The event stream: every change of every directory, in order.")
held_app = typer.Typer(help="Events held back by the safety valve or a dry run: review them.")
offboarding_app = typer.Typer(help="Proof of offboarding: deprovisionings and their confirmation.")

FOLLOW_INTERVAL = 1.0

STREAM_COLUMNS = (("seq", 8), ("occurred", 19), ("type", 31), ("directory", 36), ("subject", 0))
"""The columns ``events list --follow`` prints, with their widths: fixed, so that each
event is one line under a header printed once (the subject, last, takes what it needs)."""


@events_app.command("list")
def list_events(
    after: Annotated[int, typer.Option(help="Cursor: the last sequence already read")] = 0,
    limit: Annotated[int, typer.Option(help="Events per page")] = 100,
    directory: Annotated[str | None, typer.Option(help="Only this directory")] = None,
    org: Annotated[str | None, typer.Option(help=f"Only this organization ({OrgHelp})")] = None,
    event_type: Annotated[
        list[str] | None, typer.Option("--type", help="Only these types (repeatable)")
    ] = None,
    follow: Annotated[
        bool,
        typer.Option(
            help="Keep printing events as they arrive, a line each (with --json: a JSON object "
            "per line), until interrupted"
        ),
    ] = False,
    as_json: JsonOption = False,
    database_url: DatabaseOption = None,
) -> None:
    """Print events after a cursor, oldest first.

    With --follow --json the output is a stream: one JSON object per line, as events arrive.
    """
    engine = engine_for(database_url)
    organization_id = organization_of(engine, org).id if org else None
    where = EventFilter(
        organization_id=organization_id, directory_id=directory, types=tuple(event_type or ())
    )
    if follow:
        _follow(engine, after, limit, where, as_json)
        return
    page = _read(engine, after, limit, where)
    if as_json:
        print_json(page.events)
        return
    _print_table(page.events)
    console.print(f"Next cursor: {page.next_cursor}")


def _read(engine: Engine, after: int, limit: int, where: EventFilter) -> EventPage:
    try:
        return event_feed.read_events(engine, after, limit, where)
    except CursorExpired as exc:
        raise typer.BadParameter(str(exc)) from None


def _follow(engine: Engine, after: int, limit: int, where: EventFilter, as_json: bool) -> None:
    """Print each event once as it arrives, under a header printed once; poll while idle."""
    if not as_json:
        console.print(_stream_line(name for name, _ in STREAM_COLUMNS), style="bold")
    cursor = after
    while True:
        page = _read(engine, cursor, limit, where)
        for event in page.events:
            if as_json:
                print_json_line(event)
            else:
                console.print(_stream_line(_cells(event)))
        cursor = page.next_cursor
        if not page.events:
            time.sleep(FOLLOW_INTERVAL)


def _stream_line(cells: Iterable[object]) -> Text:
    """One line of the stream: each cell padded to its column's width, shown safely."""
    line = Text()
    for (_, width), cell in zip(STREAM_COLUMNS, cells, strict=True):
        text = shown(cell)
        if width:
            text.pad_right(max(width - len(text), 0) + 2)
        line.append_text(text)
    return line


def _cells(event: dict[str, Any]) -> tuple[object, ...]:
    """An event's cells, in the table as in the stream."""
    return (
        event["sequence"],
        to_the_second(datetime.fromisoformat(event["occurred_at"])),
        event["type"],
        event["directory_id"],
        _subject(event["data"]),
    )


def _print_table(found: list[dict[str, Any]]) -> None:
    table = Table("seq", "occurred", "type", "directory", "subject")
    for event in found:
        add_row(table, *_cells(event))
    console.print(table)


SUBJECTS = (
    ("user", "username"),
    ("group", "name"),
    ("directory", "name"),
    ("deprovisioning", "user_name"),
)
"""Where an event's payload names what it is about, in order of preference."""


def _subject(data: dict[str, Any]) -> str:
    for key, name in SUBJECTS:
        if data.get(key):
            return str(data[key].get(name) or "")
    return ""


@events_app.command("schema")
def schema() -> None:
    """Print the JSON Schema of events (also in docs/events/)."""
    print(event_schema_text(), end="")


@held_app.command("status")
def held_status(
    directory_id: str, as_json: JsonOption = False, database_url: DatabaseOption = None
) -> None:
    """Whether a directory's events are held, and how many."""
    summary = publishing.held_summary(engine_for(database_url), directory_id)
    if as_json:
        print_json(summary)
        return
    since = to_the_second(summary.held_since) or "-"
    console.print(
        f"Delivery: {summary.delivery} (since {since}); held events: {summary.held_events}"
    )


@held_app.command("release")
def held_release(directory_id: str, database_url: DatabaseOption = None) -> None:
    """Publish the held events in their original order and resume live delivery."""
    released = publishing.release(engine_for(database_url), directory_id)
    console.print(f"Released {counted(released, 'event')}; delivery is live.")


@held_app.command("discard")
def held_discard(
    directory_id: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Drop the held events: the app never learns of them (the changes stay stored)."""
    if not yes:
        typer.confirm("The app will never be told of the held changes. Discard them?", abort=True)
    discarded = publishing.discard(engine_for(database_url), directory_id)
    console.print(f"Discarded {counted(discarded, 'event')}; delivery is live.")


@offboarding_app.command("report")
def report(
    org: Annotated[str, typer.Option("--org", help=OrgHelp)],
    since: Annotated[datetime | None, typer.Option(help="Start (UTC); default 30 days ago")] = None,
    until: Annotated[datetime | None, typer.Option(help="End (UTC); default now")] = None,
    directory: Annotated[str | None, typer.Option(help="Only this directory")] = None,
    output: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
    database_url: DatabaseOption = None,
) -> None:
    """When each deprovisioning was asked for, told to the app, and confirmed by it."""
    end = _utc(until) if until else datetime.now(UTC)
    start = _utc(since) if since else end - timedelta(days=30)
    engine = engine_for(database_url)
    organization_id = organization_of(engine, org).id
    rows = event_feed.offboarding_report(engine, organization_id, start, end, directory)
    if output == "csv":
        print(offboarding_csv(rows), end="")
    elif output == "json":
        print_json(rows)
    else:
        table = Table("user", "reason", "requested", "notified", "confirmed")
        for row in rows:
            add_row(
                table,
                row.user_name or row.user_id,
                row.reason.value,
                _time(row.requested_at),
                _time(row.notified_at),
                _time(row.confirmed_at),
            )
        console.print(table)
        unconfirmed = sum(1 for row in rows if row.confirmed_at is None)
        console.print(
            f"{counted(len(rows), 'deprovisioning')}, {unconfirmed} not confirmed by the app."
        )


@offboarding_app.command("confirm")
def confirm(directory_id: str, user_id: str, database_url: DatabaseOption = None) -> None:
    """Record that the app revoked a user's access (what the app's API call does)."""
    confirmed = event_feed.confirm_revoked(engine_for(database_url), directory_id, user_id)
    console.print(f"Confirmed {counted(len(confirmed), 'deprovisioning')} of {user_id}.")


def _time(moment: datetime | None) -> str:
    return to_the_second(moment) or "-"


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
