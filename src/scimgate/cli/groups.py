"""``scimgate groups …``: a directory's groups, in the normalized shape apps read."""

import typer

from scimgate.cli.common import (
    BaseUrlOption,
    CountOption,
    DatabaseOption,
    JsonLinesOption,
    StartIndexOption,
)
from scimgate.cli.normalized import NormalizedListing
from scimgate.scim.normalized import DirectoryGroup
from scimgate.service.administration.directory_view import directory_groups

groups_app = typer.Typer(help="A directory's groups, in the normalized shape apps read.")


def _group_cells(group: DirectoryGroup) -> tuple[object, ...]:
    return group.name, group.idp_id or "", group.id


GROUPS = NormalizedListing(directory_groups, ("name", "IdP id"), _group_cells, "groups")


@groups_app.command("list")
def list_groups(
    directory_id: str,
    count: CountOption = 100,
    start_index: StartIndexOption = 1,
    as_json: JsonLinesOption = False,
    database_url: DatabaseOption = None,
    base_url: BaseUrlOption = None,
) -> None:
    """List a directory's groups, normalized."""
    GROUPS.show(directory_id, count, start_index, as_json, database_url, base_url)
