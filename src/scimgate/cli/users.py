"""``scimgate users …``: a directory's users, normalized; a user's history; erasure."""

from typing import Annotated

import typer
from rich.table import Table

from scimgate.cli.common import DatabaseOption, add_row, console, engine_for
from scimgate.cli.json_output import JsonOption, print_json
from scimgate.cli.normalized import NormalizedListing
from scimgate.scim.normalized import DirectoryUser
from scimgate.service.administration import erasure
from scimgate.service.administration.directory_view import directory_users
from scimgate.service.event_stream import event_feed
from scimgate.wording import counted

users_app = typer.Typer(help="A directory's users, in the normalized shape apps read.")


def _user_cells(user: DirectoryUser) -> tuple[object, ...]:
    return (
        user.username,
        user.display_name or "",
        user.primary_email or "",
        user.department or "",
        user.state.value,
        ", ".join(group.name for group in user.groups),
        ", ".join(user.roles),
        user.id,
    )


USERS = NormalizedListing(
    directory_users,
    ("username", "name", "e-mail", "department", "state", "groups", "roles"),
    _user_cells,
    "users",
)
USERS.add_list_command(
    users_app, "List a directory's users, normalized (the same fields whichever IdP sent them)."
)


@users_app.command("history")
def user_history(
    directory_id: str,
    user_id: str,
    as_json: JsonOption = False,
    database_url: DatabaseOption = None,
) -> None:
    """Every published event about a user, oldest first."""
    found = event_feed.user_history(engine_for(database_url), directory_id, user_id)
    if as_json:
        print_json(found)
        return
    table = Table("seq", "occurred", "type")
    for event in found:
        add_row(table, str(event["sequence"]), str(event["occurred_at"]), str(event["type"]))
    console.print(table)


@users_app.command("purge")
def purge_user(
    directory_id: str,
    user_id: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Erase a deleted or deactivated user's personal data (a data subject's request)."""
    if not yes:
        typer.confirm(f"Erase every personal detail of user {user_id}?", abort=True)
    try:
        purged = erasure.purge_user(engine_for(database_url), directory_id, user_id)
    except erasure.StillActive as exc:
        console.print(f"Not purged: {exc}")
        raise typer.Exit(1) from None
    if purged.deleted_now:
        console.print(f"Deleted user {user_id} (it was deactivated).")
    console.print(
        f"Erased user {user_id}: {counted(purged.events_redacted, 'event')} redacted, "
        "tombstone removed."
    )
