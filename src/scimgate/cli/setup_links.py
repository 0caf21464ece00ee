"""``scimgate setup-links …``: expiring one-time links for a customer's IT admin."""

from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from scimgate.api.setup_links import SetupLink as SetupLinkOut
from scimgate.cli.audit import audited
from scimgate.cli.common import (
    DatabaseOption,
    OrgHelp,
    add_row,
    console,
    engine_for,
    organization_of,
    to_the_second,
)
from scimgate.cli.json_output import JsonOption, print_json
from scimgate.service.administration import setup_links
from scimgate.store.ids import utcnow
from scimgate.store.setup_links import SetupLink

setup_links_app = typer.Typer(help="Setup links: a customer's IT admin connects their IdP alone.")

BaseUrlOption = Annotated[
    str,
    typer.Option(
        "--base-url",
        envvar="SCIMGATE_PUBLIC_URL",
        help="The service's external base URL, which the link starts with",
    ),
]


@setup_links_app.command("create")
def create_link(
    organization: Annotated[str, typer.Argument(metavar="ORG", help=OrgHelp)],
    base_url: BaseUrlOption = "http://127.0.0.1:8000",
    days: Annotated[float, typer.Option(help="How long the link may be opened (at most 30)")] = 7,
    directory_id: Annotated[
        str | None, typer.Option(help="Reopen this directory of the organization")
    ] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Create a setup link and print it (shown this once; only its hash is kept)."""
    engine = engine_for(database_url)
    organization_id = organization_of(engine, organization, named_by="ORG").id

    def create() -> setup_links.IssuedLink:
        return setup_links.create_link(
            engine, organization_id, directory_id=directory_id, valid_for=timedelta(days=days)
        )

    issued = audited(
        engine,
        "setup_link.create",
        "setup_link",
        create,
        lambda created: created.link.id,
        lambda created: created.link.organization_id,
    )
    console.print(f"Setup link id: {issued.link.id}")
    console.print(f"Send this to the IT admin: {issued.url(base_url)}")
    console.print(f"It opens once, in one browser, until {to_the_second(issued.link.expires_at)}.")


@setup_links_app.command("list")
def list_links(
    organization: Annotated[str, typer.Argument(metavar="ORG", help=OrgHelp)],
    as_json: JsonOption = False,
    database_url: DatabaseOption = None,
) -> None:
    """List an organization's setup links (never their secrets)."""
    engine = engine_for(database_url)
    organization_id = organization_of(engine, organization, named_by="ORG").id
    found = setup_links.list_links(engine, organization_id)
    now = utcnow()
    if as_json:
        rows = [{**vars(link), "state": setup_links.state(link, now)} for link in found]
        print_json([SetupLinkOut.model_validate(row) for row in rows])
        return
    table = Table("id", "state", "created", "expires", "directory", "token revealed")
    for link in found:
        add_row(
            table,
            link.id,
            setup_links.state(link, now),
            to_the_second(link.created_at),
            to_the_second(link.expires_at),
            link.directory_id or "—",
            to_the_second(link.token_revealed_at) or "no",
        )
    console.print(table)


@setup_links_app.command("revoke")
def revoke_link(link_id: str, database_url: DatabaseOption = None) -> None:
    """Revoke a setup link: the IT admin's browser loses access at once."""
    engine = engine_for(database_url)

    def revoke() -> SetupLink:
        return setup_links.revoke_link(engine, link_id)

    audited(engine, "setup_link.revoke", "setup_link", revoke, lambda link: link.id)
    console.print(f"Revoked {link_id}.")
