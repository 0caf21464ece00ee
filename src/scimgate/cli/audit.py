"""``scimgate audit …``: the audit log of administrative actions, and how commands write to it.

Every change a command makes to organizations, admin keys or setup links is
written to the audit log, with the operating-system user as the actor
(``cli:<user>``).
"""

import getpass
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import typer
from rich.table import Table
from sqlalchemy import Engine

from scimgate.cli.common import (
    DatabaseOption,
    OrgHelp,
    add_row,
    console,
    engine_for,
    organization_of,
    to_the_second,
)
from scimgate.cli.json_output import JsonOption, print_json
from scimgate.service.administration import audit
from scimgate.service.errors import ServiceError
from scimgate.store.audit import AuditQuery
from scimgate.wording import counted

audit_app = typer.Typer(help="The audit log of administrative actions.")
T = TypeVar("T")


def cli_actor() -> str:
    """The audit log's actor for a command: the operating-system user who ran it."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in a bare container
        return "cli"


def audited(
    engine: Engine,
    verb: str,
    target_type: str,
    change: Callable[[], T],
    target_id: Callable[[T], str],
    organization_id: Callable[[T], str | None] = lambda _: None,
) -> T:
    """Make a change and append its audit row; a refused change is recorded, then reported."""
    try:
        result = change()
    except ServiceError as exc:
        audit.record(
            engine, audit.Action(cli_actor(), verb, "refused", target_type, detail=str(exc))
        )
        raise
    audit.record(
        engine,
        audit.Action(
            cli_actor(),
            verb,
            "ok",
            target_type,
            target_id(result),
            organization_id=organization_id(result),
        ),
    )
    return result


@audit_app.command("list")
def list_audit(
    since: Annotated[
        datetime | None, typer.Option(help="Only entries at or after this instant (UTC)")
    ] = None,
    actor: Annotated[str | None, typer.Option(help="An actor, or an admin key's id")] = None,
    org: Annotated[str | None, typer.Option("--org", help=OrgHelp)] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    as_json: JsonOption = False,
    database_url: DatabaseOption = None,
) -> None:
    """List audit entries, newest first."""
    engine = engine_for(database_url)
    query = AuditQuery(
        since=since.replace(tzinfo=since.tzinfo or UTC) if since else None,
        actor=actor,
        organization_id=organization_of(engine, org).id if org else None,
        limit=limit,
    )
    page = audit.entries(engine, query)
    if as_json:
        print_json(page.entries)
        return
    table = Table("at", "actor", "action", "target", "outcome", "detail")
    for entry in page.entries:
        target = f"{entry.target_type} {entry.target_id}" if entry.target_type else ""
        actor = f"{entry.actor} from {entry.client}" if entry.client else entry.actor
        detail = entry.detail or ""
        if entry.count > 1:  # refused credentials of one address, counted in one row
            detail = f"{detail} ({counted(entry.count, 'time')})"
        add_row(table, to_the_second(entry.at), actor, entry.action, target, entry.outcome, detail)
    console.print(table)
