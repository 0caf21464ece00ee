"""``scimgate roles …``: role rules, by which groups give their members roles."""

from typing import Annotated

import typer
from rich.table import Table

from scimgate.cli.common import DatabaseOption, add_row, console, engine_for, report_removal
from scimgate.cli.json_output import JsonOption, print_json
from scimgate.service.administration import roles as role_mapping

roles_app = typer.Typer(help="Role mapping: groups give their members roles.")


@roles_app.command("list")
def list_role_rules(
    directory_id: str, as_json: JsonOption = False, database_url: DatabaseOption = None
) -> None:
    """Show the directory's role rules, in priority order."""
    engine = engine_for(database_url)
    found = role_mapping.list_rules(engine, directory_id)
    if as_json:
        print_json(found)
        return
    table = Table("priority", "kind", "group", "role")
    table.add_column("id", no_wrap=True, min_width=36)
    for rule in found:
        add_row(table, str(rule.priority), rule.kind, rule.match, rule.role, rule.id)
    console.print(table)


@roles_app.command("add")
def add_role_rule(
    directory_id: str,
    role: str,
    group: Annotated[str | None, typer.Option(help="Group display name")] = None,
    group_id: Annotated[str | None, typer.Option(help="The IdP's id for the group")] = None,
    default: Annotated[bool, typer.Option(help="The role of users no rule matches")] = False,
    priority: Annotated[int, typer.Option(help="Lower comes first")] = 100,
    database_url: DatabaseOption = None,
) -> None:
    """Give ROLE to the members of a group (or to everyone else, with --default)."""
    choices = [
        (kind, value)
        for kind, value in (("group_name", group), ("group_external_id", group_id))
        if value
    ]
    if default:
        choices.append(("default", ""))
    if len(choices) != 1:
        raise typer.BadParameter("name exactly one of --group, --group-id or --default")
    kind, match = choices[0]
    engine = engine_for(database_url)
    rule = role_mapping.add_rule(engine, directory_id, kind, match, role, priority)
    console.print(f"Rule {rule.id}: {kind} {match!r} -> {role} (priority {priority})")


@roles_app.command("remove")
def remove_role_rule(directory_id: str, rule_id: str, database_url: DatabaseOption = None) -> None:
    """Remove a role rule; every user's roles are recomputed."""
    removed = role_mapping.remove_rule(engine_for(database_url), directory_id, rule_id)
    report_removal(removed, f"Removed {rule_id}.", "No such rule in that directory.")
