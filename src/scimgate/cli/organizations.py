"""``scimgate orgs …``: organizations, the customers whose directories scimgate serves."""

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from scimgate.cli.audit import audited
from scimgate.cli.common import DatabaseOption, add_row, console, engine_for, shown, to_the_second
from scimgate.cli.json_output import JsonOption, print_json
from scimgate.service.administration import tenants

orgs_app = typer.Typer(help="Organizations: the customers whose directories scimgate serves.")


@orgs_app.command("create")
def create_organization(
    name: str,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print the new organization's id alone")
    ] = False,
    as_json: JsonOption = False,
    database_url: DatabaseOption = None,
) -> None:
    """Create an organization (one customer); its directories name it by id or name."""
    engine = engine_for(database_url)
    if not name.strip():
        raise typer.BadParameter("an organization needs a name")
    created = audited(
        engine,
        "organization.create",
        "organization",
        lambda: tenants.create_organization(engine, name),
        lambda org: org.id,
        lambda org: org.id,
    )
    if as_json:
        print_json(created)
        return
    if quiet:
        console.print(created.id)
        return
    console.print(Text.assemble("Created organization ", shown(created.name), f": {created.id}"))
    console.print(f"Next: scimgate directories create NAME --org {created.id} --idp entra|okta|...")


@orgs_app.command("list")
def list_organizations(as_json: JsonOption = False, database_url: DatabaseOption = None) -> None:
    """List organizations."""
    found = tenants.list_organizations(engine_for(database_url))
    if as_json:
        print_json(found)
        return
    table = Table("id", "name", "created")
    for org in found:
        add_row(table, org.id, org.name, to_the_second(org.created_at))
    console.print(table)
