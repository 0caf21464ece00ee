"""``scimgate oauth-clients …``: OAuth 2.0 clients with which a directory's IdP obtains access
tokens (client credentials grant) instead of holding a static token."""

from typing import Annotated

import typer
from rich.table import Table

from scimgate.cli.common import (
    DatabaseOption,
    add_row,
    console,
    engine_for,
    public_root,
    report_removal,
    to_the_second,
)
from scimgate.cli.json_output import JsonOption, print_json
from scimgate.service.administration import oauth_clients
from scimgate.service.administration.oauth_clients import IssuedClient

oauth_clients_app = typer.Typer(help="OAuth 2.0 clients of a directory (client credentials).")


def _show(issued: IssuedClient) -> None:
    console.print(f"Token endpoint: {public_root(None).rstrip('/')}/oauth/token")
    console.print(f"Client id:      {issued.client.id}")
    console.print(f"Client secret:  {issued.secret}")


@oauth_clients_app.command("create")
def create_client(
    directory_id: str,
    name: Annotated[str, typer.Option(help="A label, e.g. the IdP it is for")] = "oauth client",
    database_url: DatabaseOption = None,
) -> None:
    """Create an OAuth client for a directory; its secret is shown this once."""
    _show(oauth_clients.create_client(engine_for(database_url), directory_id, name))


@oauth_clients_app.command("list")
def list_clients(
    directory_id: str, as_json: JsonOption = False, database_url: DatabaseOption = None
) -> None:
    """List a directory's OAuth clients (never their secrets)."""
    found = oauth_clients.list_clients(engine_for(database_url), directory_id)
    if as_json:
        print_json(found)
        return
    table = Table("name", "secret starts with", "created", "rotated", "revoked")
    table.add_column("client id", no_wrap=True, min_width=36)
    for client in found:
        add_row(
            table,
            client.name,
            client.hint + "…",
            to_the_second(client.created_at),
            to_the_second(client.rotated_at),
            to_the_second(client.revoked_at),
            client.id,
        )
    console.print(table)


@oauth_clients_app.command("rotate")
def rotate_client(directory_id: str, client_id: str, database_url: DatabaseOption = None) -> None:
    """Give a client a new secret: the old one and its access tokens stop working at once."""
    issued = oauth_clients.rotate_secret(engine_for(database_url), directory_id, client_id)
    if issued is None:
        raise typer.BadParameter("No such active OAuth client in that directory.")
    _show(issued)


@oauth_clients_app.command("revoke")
def revoke_client(directory_id: str, client_id: str, database_url: DatabaseOption = None) -> None:
    """Revoke a client and every access token it holds: they get 401 from now on."""
    revoked = oauth_clients.revoke_client(engine_for(database_url), directory_id, client_id)
    report_removal(
        revoked, f"Revoked {client_id}.", "No such active OAuth client in that directory."
    )
