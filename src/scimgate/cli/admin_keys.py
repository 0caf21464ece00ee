"""``scimgate keys …``: admin API keys, the bearer keys that open the management API."""

from typing import Annotated

import typer
from rich.table import Table

from scimgate.cli.audit import audited, cli_actor
from scimgate.cli.common import (
    DatabaseOption,
    add_row,
    console,
    engine_for,
    to_the_second,
)
from scimgate.cli.json_output import JsonOption, print_json
from scimgate.service.administration import admin_keys, audit
from scimgate.service.administration.admin_keys import SCOPES

keys_app = typer.Typer(help="Admin API keys: bearer keys that open the management API.")


@keys_app.command("create")
def create_key(
    name: str,
    scope: Annotated[str, typer.Option(help=f"One of {', '.join(SCOPES)}")],
    database_url: DatabaseOption = None,
) -> None:
    """Create an admin key and print it (shown this once; only its hash is kept)."""
    engine = engine_for(database_url)
    issued = audited(
        engine,
        "key.create",
        "key",
        lambda: admin_keys.create_key(engine, name, scope),
        lambda key: key.record.id,
    )
    console.print(f"Key id: {issued.record.id} ({issued.record.scope})")
    console.print(f"Admin key: {issued.secret}")
    console.print("The key is shown once; send it as 'Authorization: Bearer <key>'.")


@keys_app.command("list")
def list_keys(as_json: JsonOption = False, database_url: DatabaseOption = None) -> None:
    """List admin keys (never their secrets)."""
    found = admin_keys.list_keys(engine_for(database_url))
    if as_json:
        print_json(found)
        return
    table = Table("id", "name", "scope", "hint", "created", "last used", "revoked")
    for key in found:
        add_row(
            table,
            key.id,
            key.name,
            key.scope,
            key.hint + "…",
            to_the_second(key.created_at),
            to_the_second(key.last_used_at),
            to_the_second(key.revoked_at),
        )
    console.print(table)


@keys_app.command("revoke")
def revoke_key(key_id: str, database_url: DatabaseOption = None) -> None:
    """Revoke an admin key: requests with it are refused from now on."""
    engine = engine_for(database_url)
    revoked = admin_keys.revoke_key(engine, key_id)
    outcome = "ok" if revoked else "refused"
    detail = None if revoked else "no such active key"
    audit.record(
        engine, audit.Action(cli_actor(), "key.revoke", outcome, "key", key_id, detail=detail)
    )
    if not revoked:
        raise typer.BadParameter(f"no active admin key {key_id}")
    console.print(f"Revoked {key_id}.")
