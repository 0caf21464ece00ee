"""``scimgate export|import``: move a directory's users and groups out and in as JSON lines."""

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress

from scimgate.cli.common import DatabaseOption, console, engine_for
from scimgate.service.administration import transfer
from scimgate.wording import counted


def export_directory(
    directory_id: str,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write; default stdout")
    ] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Write a directory's users and groups as JSON lines (users first, groups with members)."""
    engine = engine_for(database_url)
    target = output.open("w") if output else sys.stdout
    written = 0
    try:
        with Progress(console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task("Exporting", total=None)
            for line in transfer.export_directory(engine, directory_id):
                target.write(json.dumps(line) + "\n")
                written += 1
                progress.advance(task)
    finally:
        if output:
            target.close()
    Console(stderr=True).print(f"Exported {counted(written, 'resource')}.")


def import_directory(
    directory_id: str,
    source: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            help="JSON lines, as 'scimgate export' writes them",
        ),
    ],
    database_url: DatabaseOption = None,
) -> None:
    """Provision an export into a directory, as an IdP would (events included)."""
    engine = engine_for(database_url)
    lines = _json_lines(source)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("Importing", total=len(lines))
        result = transfer.import_directory(
            engine, directory_id, lines, lambda: progress.advance(task)
        )
    console.print(
        f"Imported {counted(result.users, 'user')}, {counted(result.groups, 'group')}, "
        f"{counted(result.memberships, 'membership')}; {len(result.refused)} refused."
    )
    for reason in result.refused:
        console.print(f"  {reason}")
    if result.refused:
        raise typer.Exit(1)


def _json_lines(source: Path) -> list[Any]:
    """The file's JSON values, one a line; a line that is not JSON is a usage error."""
    found = []
    for number, text in enumerate(source.read_text().splitlines(), start=1):
        if not text.strip():
            continue
        try:
            found.append(json.loads(text))
        except ValueError as exc:
            raise typer.BadParameter(f"line {number} of {source} is not JSON: {exc}") from None
    return found
