"""``scimgate mappings …``: named custom attributes, each read from a SCIM path."""

import typer
from rich.table import Table

from scimgate.cli.common import DatabaseOption, add_row, console, engine_for, report_removal
from scimgate.cli.json_output import JsonOption, print_json
from scimgate.service.administration import attribute_mappings

mappings_app = typer.Typer(help="Attribute mappings: named custom attributes read from SCIM paths.")


@mappings_app.command("list")
def list_mappings(
    directory_id: str, as_json: JsonOption = False, database_url: DatabaseOption = None
) -> None:
    """Show the directory's attribute mappings, its IdP's defaults included."""
    engine = engine_for(database_url)
    found = attribute_mappings.effective_mappings(engine, directory_id)
    if as_json:
        print_json([{"name": name, "path": path} for name, path in found.items()])
        return
    table = Table("name", "SCIM path")
    for name, path in found.items():
        add_row(table, name, path)
    console.print(table)


@mappings_app.command("set")
def set_mapping(
    directory_id: str, name: str, path: str, database_url: DatabaseOption = None
) -> None:
    """Map a custom attribute NAME to a SCIM PATH, e.g. cost_center to a custom extension."""
    engine = engine_for(database_url)
    attribute_mappings.set_mapping(engine, directory_id, name, path)
    console.print(f"{name} = {path}")


@mappings_app.command("remove")
def remove_mapping(directory_id: str, name: str, database_url: DatabaseOption = None) -> None:
    """Remove a directory's own mapping (its IdP's default, if any, applies again)."""
    removed = attribute_mappings.remove_mapping(engine_for(database_url), directory_id, name)
    report_removal(removed, f"Removed {name}.", f"No mapping {name} of its own in that directory.")
