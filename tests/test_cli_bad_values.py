"""Every command, given values that name nothing, answers with one line and exit status 2.

The commands are found by walking the root app, so a new command is covered the day it
is added. Each is run twice: with malformed values (``nope``) and with well-formed ids
that exist nowhere, in a directory that does exist, so that the second id of a command
(a user, a token, a rule) is the one refused.
"""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.core import TyperArgument, TyperGroup, TyperOption
from typer.testing import CliRunner

from scimgate.cli.main import app
from scimgate.service.administration import tenants
from scimgate.store.engine import open_engine
from scimgate.store.migrate import upgrade

LONG_RUNNING = {"serve", "worker", "simulate"}
NAMES = {"orgs create"}
"""Commands whose only required value is a new name, which any text can be."""
"""Commands that run until stopped or reach out over the network; tested on their own."""

FILES = {"import", "export", "schemas add"}
"""Commands whose argument is a file; a missing file is tested on its own."""


@dataclass(frozen=True)
class Command:
    path: tuple[str, ...]
    command: Any
    """Typer's command object (its click-like ``params``)."""

    @property
    def name(self) -> str:
        return " ".join(self.path)


def _commands(group: TyperGroup, prefix: tuple[str, ...] = ()) -> Iterator[Command]:
    for name, command in sorted(group.commands.items()):
        if isinstance(command, TyperGroup):
            yield from _commands(command, (*prefix, name))
        else:
            yield Command((*prefix, name), command)


COMMANDS = [
    each
    for each in _commands(typer.main.get_group(app))
    if each.name not in LONG_RUNNING | FILES | NAMES
    and any(param.required for param in each.command.params)
]


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A migrated database of its own and one directory in it."""
    url = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'scimgate.db'}"
    engine = open_engine(url)
    try:
        upgrade(engine)
        organization = tenants.create_organization(engine, "Bad values")
        directory = tenants.create_directory(engine, organization.id, "bad values")
    finally:
        engine.dispose()
    return url, directory.directory.id


DIRECTORY_PARAMS = {"directory_id", "directory"}


def _required(command: Any) -> set[str]:
    return {param.name for param in command.params if param.required}


def _arguments(command: Any, value: str, directory_id: str | None) -> list[str]:
    """Every required parameter given ``value`` (the directory's id for a directory)."""
    given: list[str] = []
    for param in command.params:
        names_a_directory = param.name in DIRECTORY_PARAMS
        chosen = directory_id if names_a_directory and directory_id else value
        if isinstance(param, TyperArgument) and param.required:
            given.append(chosen)
        elif isinstance(param, TyperOption) and param.required:
            given += [param.opts[0], chosen]
        elif isinstance(param, TyperOption) and param.opts[0] == "--yes":
            given.append("--yes")
    return given


@pytest.mark.parametrize("command", COMMANDS, ids=lambda each: each.name)
@pytest.mark.parametrize("kind", ["malformed", "unknown"])
def test_a_value_that_names_nothing_is_a_usage_error(
    command: Command, kind: str, database: tuple[str, str]
) -> None:
    url, _ = database
    value = "nope" if kind == "malformed" else str(uuid.uuid4())
    _refused(command, _arguments(command.command, value, None), url)


@pytest.mark.parametrize(
    "command",
    [each for each in COMMANDS if len(_required(each.command) - DIRECTORY_PARAMS) > 0],
    ids=lambda each: each.name,
)
def test_an_unknown_id_in_a_known_directory_is_a_usage_error(
    command: Command, database: tuple[str, str]
) -> None:
    url, directory_id = database
    _refused(command, _arguments(command.command, str(uuid.uuid4()), directory_id), url)


def _refused(command: Command, arguments: list[str], url: str) -> None:
    result = CliRunner().invoke(app, [*command.path, *arguments, "--database-url", url])
    assert result.exit_code == 2, (arguments, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert "Error" in result.output, result.output


def test_a_missing_or_garbled_file_is_a_usage_error(
    database: tuple[str, str], tmp_path: Path
) -> None:
    url, directory_id = database
    missing = str(tmp_path / "missing.json")
    garbled = tmp_path / "garbled.jsonl"
    garbled.write_text('{"kind": "user"}\nnot json\n')
    for arguments in (
        ["import", directory_id, missing],
        ["import", directory_id, str(garbled)],
        ["schemas", "add", directory_id, missing],
    ):
        result = CliRunner().invoke(app, [*arguments, "--database-url", url])
        assert result.exit_code == 2, (arguments, result.output, result.exception)
        assert isinstance(result.exception, SystemExit), result.exception
