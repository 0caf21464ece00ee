"""``scimgate google …``: directories pulled from Google Workspace."""

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from scimgate.cli.audit import audited
from scimgate.cli.common import (
    DatabaseOption,
    add_row,
    console,
    engine_for,
    organization_of,
    settings_for,
    to_the_second,
)
from scimgate.cli.json_output import JsonOption, print_json
from scimgate.scim.google_workspace import ScopeKind, SyncScope
from scimgate.service.administration import google_directories
from scimgate.service.administration.google_directories import ConnectionRequest
from scimgate.store.google_connections import GoogleConnection
from scimgate.store.migrate import upgrade

google_app = typer.Typer(help="Directories pulled from Google Workspace (Directory API).")

AdminOption = Annotated[
    str, typer.Option("--admin", help="An administrator of the Google account to act as")
]
KeyOption = Annotated[
    Path | None,
    typer.Option(
        "--key",
        exists=True,
        dir_okay=False,
        help="The service account's JSON key file; omitted: the operator's service account "
        "(or, for connect, the key the directory has)",
    ),
]
CustomerOption = Annotated[
    str, typer.Option("--customer", help="Google's customer ID (C…), or my_customer")
]
OrgUnitOption = Annotated[
    list[str] | None,
    typer.Option("--org-unit", help="Sync only this org unit and those beneath it (repeatable)"),
]
GroupOption = Annotated[
    list[str] | None,
    typer.Option("--group", help="Sync only the members of this group, by e-mail (repeatable)"),
]
IntervalOption = Annotated[
    float | None, typer.Option("--interval", min=1, help="Minutes between full syncs")
]


def _request(
    admin: str,
    key: Path | None,
    customer: str,
    org_units: list[str] | None,
    groups: list[str] | None,
    interval: float | None,
) -> ConnectionRequest:
    if org_units and groups:
        raise typer.BadParameter("give --org-unit or --group, not both")
    kind = ScopeKind.org_units if org_units else ScopeKind.groups if groups else ScopeKind.all
    try:
        scope = SyncScope(kind, tuple(org_units or groups or ()))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    return ConnectionRequest(
        admin_email=admin,
        customer_id=customer,
        key=google_directories.read_key(key.read_text()) if key else None,
        scope=scope,
        interval_minutes=interval,
    )


def _show(connection: GoogleConnection) -> None:
    console.print(f"Directory:          {connection.directory_id}")
    console.print(f"Acts as:            {connection.admin_email} ({connection.customer_id})")
    if connection.by_consent:
        console.print(f"Read with:          the consent {connection.admin_email} gave")
    else:
        console.print(f"Service account:    {connection.client_email or '-'}")
        console.print(
            f"Grant delegation to client ID {connection.client_id or '-'} with the scopes"
        )
        console.print(f"  {google_directories.delegation_scopes()}")
    values = ", ".join(connection.scope_values)
    console.print(f"Scope:              {connection.scope_kind}{': ' + values if values else ''}")
    console.print(f"Every:              {connection.interval_minutes:g} minutes")
    console.print(f"Next sync:          {to_the_second(connection.next_sync_at)}")
    console.print(f"Last sync ended:    {to_the_second(connection.last_finished_at) or 'never'}")
    if connection.last_error:
        console.print(f"[red]Last error:[/red]         {connection.last_error}")
    if connection.empty_allowed_at:
        allowed = to_the_second(connection.empty_allowed_at)
        console.print(f"Emptying allowed:   {allowed}, for the next sync")
    if connection.last_counts:
        _print_counts("last sync", connection.last_counts)


def _print_counts(title: str, counts: dict[str, int]) -> None:
    table = Table(title, "count")
    for name, count in counts.items():
        add_row(table, name.replace("_", " "), str(count))
    console.print(table)


@google_app.command("create")
def create(
    name: str,
    org: Annotated[str, typer.Option("--org", help="The organization, by id or exact name")],
    admin: AdminOption,
    key: KeyOption = None,
    customer: CustomerOption = google_directories.MY_CUSTOMER,
    org_unit: OrgUnitOption = None,
    group: GroupOption = None,
    interval: IntervalOption = None,
    dry_run: Annotated[
        bool, typer.Option(help="Hold every event until the first sync is reviewed")
    ] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Create a directory pulled from Google Workspace; workers sync it at once."""
    settings = settings_for(database_url)
    engine = engine_for(database_url)
    upgrade(engine)
    organization = organization_of(engine, org)
    request = _request(admin, key, customer, org_unit, group, interval)
    _, connection = google_directories.create_google_directory(
        engine, settings.google, organization.id, name, request, dry_run=dry_run
    )
    _show(connection)


@google_app.command("connect")
def connect(
    directory_id: str,
    admin: AdminOption,
    key: KeyOption = None,
    customer: CustomerOption = google_directories.MY_CUSTOMER,
    org_unit: OrgUnitOption = None,
    group: GroupOption = None,
    interval: IntervalOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Change how a pulled directory reaches Google; its next sync is due at once."""
    settings = settings_for(database_url)
    request = _request(admin, key, customer, org_unit, group, interval)
    _show(
        google_directories.connect(engine_for(database_url), settings.google, directory_id, request)
    )


@google_app.command("status")
def status(
    directory_id: str, as_json: JsonOption = False, database_url: DatabaseOption = None
) -> None:
    """How a pulled directory's syncs go: when, what they found, the last error."""
    connection = google_directories.connection_of(engine_for(database_url), directory_id)
    if as_json:
        print_json(connection)
        return
    _show(connection)


@google_app.command("sync")
def sync(
    directory_id: str,
    here: Annotated[
        bool, typer.Option("--here", help="Run the sync in this process and wait for it")
    ] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Sync a pulled directory now: by the next free worker, or here with --here."""
    engine = engine_for(database_url)
    if not here:
        google_directories.sync_soon(engine, directory_id)
        console.print("Sync due now: the next free worker runs it ('scimgate google status').")
        return
    report = google_directories.sync_here(engine, settings_for(database_url).google, directory_id)
    _print_counts("synced", report.counts.as_dict())
    if report.error:
        console.print(f"[red]{report.error}[/red]")
        raise typer.Exit(1)


@google_app.command("allow-empty")
def allow_empty(
    directory_id: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Let the next sync deprovision everyone if Google lists nobody in scope (due now)."""
    if not yes:
        typer.confirm(
            "If Google still lists nobody in scope, the next sync deprovisions every user of "
            "the directory. Allow it?",
            abort=True,
        )
    engine = engine_for(database_url)
    audited(
        engine,
        "google.allow_empty",
        "directory",
        lambda: google_directories.allow_empty(engine, directory_id),
        lambda connection: connection.directory_id,
    )
    console.print(
        "Allowed for the next sync, due now: if Google lists nobody in scope, it deprovisions "
        "everyone ('scimgate google status')."
    )


@google_app.command("check")
def check(directory_id: str, database_url: DatabaseOption = None) -> None:
    """Ask Google for one user as the sync would, and say what it refused, if anything."""
    settings = settings_for(database_url)
    google_directories.check_directory(engine_for(database_url), settings.google, directory_id)
    console.print("Google let the service account read the account's users.")
