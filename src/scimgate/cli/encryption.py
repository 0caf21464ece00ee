"""``scimgate encryption``: keys for encryption at rest, what each protects, and rotation."""

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from scimgate.cli.common import DatabaseOption, add_row, console, engine_for
from scimgate.cli.json_output import JsonOption, print_json
from scimgate.service.administration import encryption
from scimgate.store.encryption import EncryptionError, new_key_line

encryption_app = typer.Typer(
    help="Encryption at rest: make keys, see what each key protects, rotate to the newest."
)


@encryption_app.command("new-key")
def new_key(
    key_id: Annotated[
        str | None,
        typer.Argument(help="The key's id (letters, digits, - _ .); default: today's date"),
    ] = None,
) -> None:
    """Print a fresh key entry for SCIMGATE_ENCRYPTION_KEYS (put it first to make it current)."""
    try:
        print(new_key_line(key_id or datetime.now(UTC).strftime("k%Y%m%d")))
    except EncryptionError as exc:
        raise typer.BadParameter(str(exc)) from None


@encryption_app.command("status")
def status(
    as_json: JsonOption = False,
    database_url: DatabaseOption = None,
) -> None:
    """How many stored rows each key id protects, and how many are still plain."""
    found = encryption.status(engine_for(database_url))
    if as_json:
        print_json({each.name: each.rows_by_key for each in found})
        return
    table = Table("stored values", "key id", "rows")
    for each in found:
        for key_id, count in each.rows_by_key.items():
            add_row(table, each.name, key_id, str(count))
        if not each.rows_by_key:
            add_row(table, each.name, "-", "0")
    console.print(table)


@encryption_app.command("rotate")
def rotate(
    batch_size: Annotated[
        int, typer.Option(min=1, help="Rows per transaction (small: writers barely wait)")
    ] = encryption.BATCH_SIZE,
    database_url: DatabaseOption = None,
) -> None:
    """Re-encrypt everything under the newest key (plain rows too), while the service runs."""
    try:
        done = encryption.rotate(engine_for(database_url), batch_size=batch_size)
    except EncryptionError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    for name, count in done.rewritten.items():
        console.print(f"{name}: {count} re-encrypted under key {done.key_id}")
