"""``scimgate schemas …``: extension schemas, the custom attributes a directory's IdP sends."""

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from scim2_models import SCIMException

from scimgate.cli.common import DatabaseOption, add_row, console, engine_for, to_the_second
from scimgate.cli.json_output import JsonOption, print_json
from scimgate.scim.extensions import simple_schema
from scimgate.service.provisioning import extension_schemas
from scimgate.wording import counted

schemas_app = typer.Typer(help="Extension schemas: custom attributes a directory's IdP sends.")


@schemas_app.command("list")
def list_schemas(
    directory_id: str, as_json: JsonOption = False, database_url: DatabaseOption = None
) -> None:
    """Show the extension schemas registered for a directory."""
    engine = engine_for(database_url)
    found = extension_schemas.registered(engine, directory_id)
    if as_json:
        print_json(found)
        return
    table = Table("schema", "extends", "attributes", "registered")
    for each in found:
        names = ", ".join(attribute["name"] for attribute in each.definition["attributes"])
        add_row(table, each.id, each.resource_type, names, to_the_second(each.created_at))
    console.print(table)


@schemas_app.command("add")
def add_schema(
    directory_id: str,
    definition: Annotated[
        str | None,
        typer.Argument(help="A JSON file holding an RFC 7643 schema definition, or - for stdin"),
    ] = None,
    urn: Annotated[str | None, typer.Option(help="The schema URN, with --attribute")] = None,
    attribute: Annotated[
        list[str] | None,
        typer.Option(help="name, name:type or name:type:multi (repeat for more)"),
    ] = None,
    extends: Annotated[str, typer.Option(help="User or Group")] = "User",
    database_url: DatabaseOption = None,
) -> None:
    """Register an extension schema: from a definition file, or from --urn and --attribute."""
    if (definition is None) == (urn is None):
        raise typer.BadParameter("give either a definition file or --urn with --attribute")
    engine = engine_for(database_url)
    try:
        if definition is not None:
            text = sys.stdin.read() if definition == "-" else Path(definition).read_text()
            payload = json.loads(text)
        else:
            payload = simple_schema(str(urn), attribute or [])
        schema = extension_schemas.register(engine, directory_id, extends, payload)
    except (OSError, ValueError, SCIMException) as exc:
        raise typer.BadParameter(str(exc)) from None
    names = ", ".join(each.name or "" for each in schema.attributes or [])
    console.print(f"Registered {schema.id} on {extends}: {names}")


@schemas_app.command("remove")
def remove_schema(directory_id: str, urn: str, database_url: DatabaseOption = None) -> None:
    """Unregister a schema; its values are removed from every resource that held them."""
    engine = engine_for(database_url)
    purged = extension_schemas.unregister(engine, directory_id, urn)
    console.print(f"Removed {urn}; {counted(purged, 'resource')} held values for it.")
