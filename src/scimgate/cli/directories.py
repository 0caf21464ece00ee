"""``scimgate directories …``: directories, one per identity-provider connection."""

from typing import Annotated

import typer
from rich.table import Table

from scimgate.api.directories import directory_out
from scimgate.cli.common import (
    BaseUrlOption,
    DatabaseOption,
    OrgHelp,
    add_row,
    console,
    engine_for,
    organization_of,
    public_root,
    scim_url,
    to_the_second,
)
from scimgate.cli.json_output import JsonOption, print_json
from scimgate.scim.idp import IdpProfile
from scimgate.service.administration import tenants
from scimgate.service.event_stream import safety
from scimgate.store.migrate import upgrade

directories_app = typer.Typer(help="Directories: one per identity-provider connection.")


@directories_app.command("create")
def create_directory(
    name: str,
    org: Annotated[
        str, typer.Option("--org", help=f"{OrgHelp} ('scimgate orgs create' makes one)")
    ],
    idp: Annotated[IdpProfile, typer.Option(help="The identity provider it connects")] = (
        IdpProfile.generic
    ),
    dry_run: Annotated[
        bool, typer.Option(help="Hold every event until the first sync is reviewed")
    ] = False,
    database_url: DatabaseOption = None,
    base_url: BaseUrlOption = None,
) -> None:
    """Create a directory and print its SCIM base URL and first token."""
    engine = engine_for(database_url)
    upgrade(engine)
    organization = organization_of(engine, org)
    created = tenants.create_directory(engine, organization.id, name, idp, dry_run=dry_run)
    described = f"{name}, {idp.value}, organization {organization.name} ({organization.id})"
    console.print(f"Directory:     {created.directory.id} ({described})")
    if dry_run:
        console.print("Dry run: events are held until 'scimgate held release'.")
    console.print(f"SCIM base URL: {scim_url(public_root(base_url), created.directory.id)}")
    console.print(f"Bearer token:  {created.token.secret}")


@directories_app.command("list")
def list_directories(
    as_json: JsonOption = False, database_url: DatabaseOption = None, base_url: BaseUrlOption = None
) -> None:
    """List every directory."""
    found = tenants.list_directories(engine_for(database_url))
    if as_json:
        root = public_root(base_url).rstrip("/")
        print_json([directory_out(directory, root) for directory in found])
        return
    table = Table("name", "idp", "created")
    table.add_column("id", no_wrap=True, min_width=36)
    table.add_column("organization", no_wrap=True, min_width=36)
    for directory in found:
        idp = tenants.effective_idp(directory).value
        declared = directory.idp != "generic" or directory.idp_detected is None
        add_row(
            table,
            directory.name,
            idp if declared else f"{idp} (recognised)",
            to_the_second(directory.created_at),
            directory.id,
            directory.organization_id,
        )
    console.print(table)


@directories_app.command("configure")
def configure_directory(
    directory_id: str,
    assignment_group: Annotated[
        str | None,
        typer.Option(help="Display name of the group whose members may use the app"),
    ] = None,
    no_assignment_group: Annotated[
        bool, typer.Option(help="Every user of the directory may use the app")
    ] = False,
    safety_max_count: Annotated[
        int | None, typer.Option(help="Deprovisionings in the window that hold events (0: off)")
    ] = None,
    safety_max_percent: Annotated[
        int | None, typer.Option(help="Share of users, in percent, that holds events (0: off)")
    ] = None,
    safety_window: Annotated[
        int | None, typer.Option(help="The safety valve's window, in minutes")
    ] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Set a directory's assignment group and safety-valve thresholds."""
    engine = engine_for(database_url)
    if assignment_group is not None and no_assignment_group:
        raise typer.BadParameter("give --assignment-group or --no-assignment-group, not both")
    valve = safety.configure(
        engine,
        directory_id,
        max_count=safety_max_count,
        max_percent=safety_max_percent,
        window_minutes=safety_window,
    )
    if assignment_group is not None or no_assignment_group:
        safety.set_assignment_group(engine, directory_id, assignment_group)
    console.print(
        f"Safety valve: more than {valve.max_count} deprovisionings or {valve.max_percent}% "
        f"of users within {valve.window_minutes} minutes hold events (0 = rule off); "
        f"delivery is {valve.delivery}."
    )
    if assignment_group is not None:
        console.print(f"Only members of {assignment_group!r} are active users of the app.")
    elif no_assignment_group:
        console.print("Every user of the directory is a user of the app.")
