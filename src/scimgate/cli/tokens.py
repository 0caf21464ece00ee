"""``scimgate tokens …``: the bearer tokens a directory's IdP authenticates with."""

from typing import Annotated

import typer
from rich.table import Table

from scimgate.cli.common import (
    DatabaseOption,
    add_row,
    console,
    engine_for,
    report_removal,
    to_the_second,
)
from scimgate.cli.json_output import JsonOption, print_json
from scimgate.service.administration import tenants

tokens_app = typer.Typer(help="Bearer tokens of a directory.")


@tokens_app.command("create")
def create_token(
    directory_id: str,
    name: Annotated[str, typer.Option(help="A label, e.g. the IdP it is for")] = "token",
    database_url: DatabaseOption = None,
) -> None:
    """Create another token for a directory (rotate: create, switch the IdP, revoke the old)."""
    engine = engine_for(database_url)
    issued = tenants.create_token(engine, directory_id, name)
    console.print(f"Token id:     {issued.record.id}")
    console.print(f"Bearer token: {issued.secret}")


@tokens_app.command("list")
def list_tokens(
    directory_id: str, as_json: JsonOption = False, database_url: DatabaseOption = None
) -> None:
    """List a directory's tokens (never their secrets)."""
    engine = engine_for(database_url)
    found = tenants.list_tokens(engine, directory_id)
    if as_json:
        print_json(found)
        return
    table = Table("name", "starts with", "created", "last used", "revoked")
    table.add_column("id", no_wrap=True, min_width=36)
    for token in found:
        add_row(
            table,
            token.name,
            token.hint + "…",
            to_the_second(token.created_at),
            to_the_second(token.last_used_at) or "never",
            to_the_second(token.revoked_at),
            token.id,
        )
    console.print(table)


@tokens_app.command("revoke")
def revoke_token(directory_id: str, token_id: str, database_url: DatabaseOption = None) -> None:
    """Revoke a token: requests bearing it get 401 from now on."""
    revoked = tenants.revoke_token(engine_for(database_url), directory_id, token_id)
    report_removal(revoked, f"Revoked {token_id}.", "No such active token in that directory.")
