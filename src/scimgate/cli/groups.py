"""``scimgate groups …``: a directory's groups, in the normalized shape apps read."""

import typer

from scimgate.cli.normalized import NormalizedListing
from scimgate.scim.normalized import DirectoryGroup
from scimgate.service.administration.directory_view import directory_groups

groups_app = typer.Typer(help="A directory's groups, in the normalized shape apps read.")


def _group_cells(group: DirectoryGroup) -> tuple[object, ...]:
    return group.name, group.idp_id or "", group.id


GROUPS = NormalizedListing(directory_groups, ("name", "IdP id"), _group_cells, "groups")
GROUPS.add_list_command(groups_app, "List a directory's groups, normalized.")
