"""``scimgate drift``: what the IdP has stopped confirming, a sign of a missed deprovisioning."""

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from scimgate.cli.common import DatabaseOption, add_row, console, engine_for, to_the_second
from scimgate.cli.json_output import JsonOption, print_json
from scimgate.service.errors import Invalid
from scimgate.service.provisioning import confirmations


def drift(
    directory_id: str,
    since: Annotated[
        datetime | None, typer.Option(help="Report what the IdP has not confirmed since (UTC)")
    ] = None,
    older_than: Annotated[
        float | None, typer.Option(help="...or for longer than this many hours")
    ] = None,
    as_json: JsonOption = False,
    database_url: DatabaseOption = None,
) -> None:
    """Users and groups the IdP has stopped sending: candidates for a missed deprovisioning."""
    try:
        cutoff = confirmations.drift_cutoff(since, older_than)
    except Invalid as exc:
        raise typer.BadParameter(f"{exc}: --since or --older-than") from None
    engine = engine_for(database_url)
    found = confirmations.drift_report(engine, directory_id, cutoff)
    if as_json:
        print_json({"since": cutoff, "resources": found})
        return
    table = Table("kind", "name", "last confirmed")
    table.add_column("id", no_wrap=True, min_width=36)
    for item in found:
        last = to_the_second(item.confirmed_at) or "never"
        add_row(table, item.kind, item.name, last, item.id)
    console.print(table)
    console.print(f"{len(found)} not confirmed since {to_the_second(cutoff)}.")
