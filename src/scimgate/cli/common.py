"""What every ``scimgate`` command shares: the console, options, settings, the service's URLs."""

import functools
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine

from scimgate.config import Settings
from scimgate.service.administration import tenants
from scimgate.service.errors import ServiceError, UnknownOrganization
from scimgate.store.engine import open_engine
from scimgate.store.tenants import Organization

console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
"""Piped output is not cut to 80 columns: ids and tokens must survive whole."""

DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database-url", help="Database URL; default $SCIMGATE_DATABASE_URL or ./scimgate.db"
    ),
]
OrgHelp = "Organization id or exact name"

CountOption = Annotated[int, typer.Option(help="Page size")]
StartIndexOption = Annotated[int, typer.Option("--start-index", help="1-based position")]
BaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        help="The service's external URL; default $SCIMGATE_PUBLIC_URL or http://127.0.0.1:8000",
    ),
]


_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e") | frozenset(
    "\u2066\u2067\u2068\u2069"
)
"""Format characters that reorder the text around them on a terminal."""


def _visible(character: str) -> str:
    if unicodedata.category(character) != "Cc" and character not in _BIDI_CONTROLS:
        return character
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(value: object) -> Text:
    """A value for the terminal: control characters written out visibly (``\\x1b``), no markup.

    What an IdP sent is stored as it came, escape sequences included; printed
    raw, it could recolour, rewrite or hide what an operator reads. Square
    brackets stay text, not Rich markup.
    """
    text = "" if value is None else str(value)
    return Text("".join(_visible(character) for character in text))


def add_row(table: Table, *cells: object) -> None:
    """Add a row whose every cell goes through :func:`shown`: how every command fills a table."""
    table.add_row(*(shown(cell) for cell in cells))


def settings_for(database_url: str | None) -> Settings:
    """The environment's settings, with the database a command was given.

    Settings that contradict each other or do not parse end the command with the reason.
    """
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    return replace(settings, database_url=database_url) if database_url else settings


def engine_for(database_url: str | None) -> Engine:
    settings = settings_for(database_url)
    return open_engine(settings.database_url, settings.pool, settings.encryption_keys)


def organization_of(engine: Engine, given: str, *, named_by: str = "--org") -> Organization:
    """The organization a command names by id or exact name; a usage error when none has it."""
    try:
        return tenants.find_organization(engine, given)
    except UnknownOrganization:
        raise typer.BadParameter(
            f"no organization has the id or name {given!r}: 'scimgate orgs list' shows them, "
            "'scimgate orgs create NAME' makes one",
            param_hint=named_by,
        ) from None


def public_root(base_url: str | None) -> str:
    """The service's external URL: the option, else ``$SCIMGATE_PUBLIC_URL``, else the default."""
    return base_url or settings_for(None).public_url or "http://127.0.0.1:8000"


def scim_url(root: str, directory_id: str) -> str:
    """A directory's SCIM base URL under the service's root: the address its IdP is given."""
    return f"{root.rstrip('/')}/scim/v2/{directory_id}"


def to_the_second(at: datetime | None) -> str:
    """A moment for a table cell or a sentence: RFC 3339 in UTC, to the second, as every
    output writes times (``2026-12-04T09:30:00Z``); blank when it has not happened."""
    return f"{at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}" if at is not None else ""


def report_removal(removed: bool, done: str, missing: str) -> None:
    """Say what a removal did; nothing to remove is a usage error (exit status 2)."""
    if not removed:
        raise typer.BadParameter(missing)
    console.print(done)


def report_service_errors(app: typer.Typer) -> None:
    """Make every command of ``app`` (its groups' included) end on a refusal of the service
    with its reason, as a bad parameter: one line, exit status 2.

    Call it once every command is registered. The reason is the service's own sentence,
    which names what was not found or not valid.
    """
    for command in app.registered_commands:
        if command.callback is not None:
            command.callback = _reporting(command.callback)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            report_service_errors(group.typer_instance)


def _reporting(callback: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(callback)
    def reporting(*args: Any, **kwargs: Any) -> Any:
        try:
            return callback(*args, **kwargs)
        except ServiceError as exc:
            raise typer.BadParameter(str(exc)) from None

    return reporting
