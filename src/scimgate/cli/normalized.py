"""The ``list`` command ``users`` and ``groups`` share: a page of a directory's normalized view."""

from collections.abc import Callable
from typing import Generic, TypeVar

import typer
from rich.table import Table

from scimgate.cli.common import (
    BaseUrlOption,
    CountOption,
    DatabaseOption,
    StartIndexOption,
    add_row,
    console,
    engine_for,
    public_root,
)
from scimgate.cli.json_output import JsonOption, print_json
from scimgate.records import frozen

Item = TypeVar("Item")


@frozen
class NormalizedListing(Generic[Item]):
    """How one kind of resource of the normalized view is listed: as a table or JSON."""

    view: Callable[..., tuple[int, list[Item]]]
    """The service's page of the view, e.g. ``directory_users``."""
    headings: tuple[str, ...]
    """The table's headings before its last column, the id (kept whole, never wrapped)."""
    cells: Callable[[Item], tuple[object, ...]]
    """An item's cells under the headings, then its id."""
    plural: str
    """What the closing count line calls the items, e.g. ``users``."""

    def add_list_command(self, app: typer.Typer, summary: str) -> None:
        """Give ``app`` its ``list`` command, which prints one page; ``summary`` is its help."""

        def list_command(
            directory_id: str,
            count: CountOption = 100,
            start_index: StartIndexOption = 1,
            as_json: JsonOption = False,
            database_url: DatabaseOption = None,
            base_url: BaseUrlOption = None,
        ) -> None:
            self.show(directory_id, count, start_index, as_json, database_url, base_url)

        app.command("list", help=summary)(list_command)

    def show(
        self,
        directory_id: str,
        count: int,
        start_index: int,
        as_json: bool,
        database_url: str | None,
        base_url: str | None,
    ) -> None:
        """Print one page; an unknown directory ends the command."""
        total, found = self.view(
            engine_for(database_url),
            directory_id,
            public_root(base_url),
            count=count,
            start_index=start_index,
        )
        if as_json:
            print_json(found)
            return
        table = Table(*self.headings)
        table.add_column("id", no_wrap=True, min_width=36)
        for item in found:
            add_row(table, *self.cells(item))
        console.print(table)
        console.print(f"{len(found)} of {total} {self.plural} from position {start_index}.")
