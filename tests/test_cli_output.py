"""What the command line prints: one JSON convention, a stream that prints each event once,
and help that names parameters as the README's usage lines do."""

import json
import re
import secrets
import time
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import click
import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

from conftest import DirectoryClient, LiveServer, new_directory
from scim_payloads import group, user
from scimgate.cli import events as events_cli
from scimgate.cli.main import app
from scimgate.service.administration import setup_links, tenants
from scimgate.service.operations import provisioning_log

RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
runner = CliRunner()
WIDE = {"COLUMNS": "200"}
"""Help on a wide terminal: a usage line on one line."""


def _cli(database_url: str, *args: str) -> str:
    result = runner.invoke(app, [*args, "--database-url", database_url])
    assert result.exit_code == 0, result.output
    return result.output


def _times(document: Any) -> Iterator[Any]:
    """Every value under a key that names a time (``at``, ``…_at``, ``since``, ``…_since``)."""
    if isinstance(document, dict):
        for key, value in document.items():
            if key == "at" or key.endswith(("_at", "since")):
                yield value
            else:
                yield from _times(value)
    elif isinstance(document, list):
        for item in document:
            yield from _times(item)


@pytest.fixture
def directory(live_server: LiveServer, database_url: str) -> Iterator[DirectoryClient]:
    """A directory with a user in a group, a role rule, a schema and a logged request."""
    client = new_directory(live_server, "json")
    ann = client.http.post("/Users", json=user("ann@example.com")).json()["id"]
    client.http.post("/Groups", json=group("Staff", [ann]))
    _cli(database_url, "roles", "add", client.directory_id, "staff", "--group", "Staff")
    badges = "urn:example:params:scim:schemas:extension:badges:2.0:User"
    _cli(database_url, "schemas", "add", client.directory_id, "--urn", badges, "--attribute", "tag")
    request_id = secrets.token_hex(8)
    client.http.get("/ServiceProviderConfig", headers={"X-Request-Id": request_id})
    deadline = time.monotonic() + 10
    while provisioning_log.find(live_server.engine, request_id) is None:
        assert time.monotonic() < deadline, "the request was not logged within 10 s"
        time.sleep(0.02)
    yield client
    client.http.close()


def _listed(database_url: str, directory_id: str) -> dict[str, Any]:
    """The directory as ``directories list --json`` shows it."""
    listed = json.loads(_cli(database_url, "directories", "list", "--json"))
    [mine] = [each for each in listed if each["id"] == directory_id]
    return dict(mine)


def _listings_with_times(
    directory_id: str, user_id: str, organization_id: str
) -> list[tuple[str, ...]]:
    """The listings whose rows carry times, for the fixture's directory."""
    return [
        ("directories", "list"),
        ("tokens", "list", directory_id),
        ("users", "history", directory_id, user_id),
        ("schemas", "list", directory_id),
        ("events", "list", "--directory", directory_id),
        ("logs", "list", directory_id),
        ("orgs", "list"),
        ("keys", "list"),
        ("audit", "list"),
        ("setup-links", "list", organization_id),
        ("webhooks", "list"),
    ]


TIME_LIKE = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d\S*")


def test_every_table_writes_times_in_rfc3339_utc(
    live_server: LiveServer, database_url: str, directory: DirectoryClient
) -> None:
    directory_id = directory.directory_id
    organization_id = _listed(database_url, directory_id)["organization_id"]
    setup_links.create_link(live_server.engine, organization_id, valid_for=timedelta(days=1))
    _cli(database_url, "webhooks", "create", "https://example.com/tables", "--org", organization_id)
    user_id = json.loads(_cli(database_url, "users", "list", directory_id, "--json"))[0]["id"]
    commands = [
        *_listings_with_times(directory_id, user_id, organization_id),
        ("drift", directory_id, "--older-than", "0"),
    ]
    seen = 0
    for command in commands:
        result = runner.invoke(app, [*command, "--database-url", database_url], env=WIDE)
        assert result.exit_code == 0, (command, result.output)
        times = TIME_LIKE.findall(result.output)
        assert all(RFC3339_UTC.fullmatch(each.rstrip(".,")) for each in times), (command, times)
        seen += len(times)
    assert seen >= len(commands), "the tables show times"


def test_every_json_output_is_one_document_with_rfc3339_times(
    live_server: LiveServer, database_url: str, directory: DirectoryClient
) -> None:
    directory_id = directory.directory_id
    mine = _listed(database_url, directory_id)
    organization_id = mine["organization_id"]
    assert mine["scim_base_url"].endswith(f"/scim/v2/{directory_id}")
    user_id = json.loads(_cli(database_url, "users", "list", directory_id, "--json"))[0]["id"]
    _cli(database_url, "keys", "create", "json output", "--scope", "read")
    setup_links.create_link(live_server.engine, organization_id, valid_for=timedelta(days=1))
    quiet = tenants.create_organization(live_server.engine, f"no events {secrets.token_hex(3)}")
    endpoint = json.loads(
        _cli(database_url, "webhooks", "create", "https://example.com/json", "--org", quiet.id,
             "--json")
    )  # fmt: skip
    assert RFC3339_UTC.fullmatch(endpoint["created_at"]) and endpoint["secret"]
    logged = json.loads(_cli(database_url, "logs", "list", directory_id, "--json"))
    assert logged, "the fixture's requests are logged"

    listings = [
        *_listings_with_times(directory_id, user_id, organization_id),
        ("users", "list", directory_id),
        ("groups", "list", directory_id),
        ("mappings", "list", directory_id),
        ("roles", "list", directory_id),
        ("webhooks", "deliveries", endpoint["id"]),
    ]
    things = [
        ("held", "status", directory_id),
        ("drift", directory_id, "--older-than", "1"),
        ("logs", "show", logged[0]["id"]),
        ("encryption", "status"),
    ]
    for command, kind in [*((each, list) for each in listings), *((each, dict) for each in things)]:
        output = _cli(database_url, *command, "--json")
        document = json.loads(output)  # one document, not one per line
        assert isinstance(document, kind), (command, output)
        if kind is list and command[-1] != endpoint["id"]:
            assert document, command
        times = [each for each in _times(document) if each is not None]
        assert all(RFC3339_UTC.fullmatch(each) for each in times), (command, times)
        assert "+00:00" not in output, command
    held = json.loads(_cli(database_url, "held", "status", directory_id, "--json"))
    assert held == {
        "directory_id": directory_id,
        "delivery": "live",
        "held_since": None,
        "held_events": 0,
    }
    drift = json.loads(_cli(database_url, "drift", directory_id, "--older-than", "1", "--json"))
    assert RFC3339_UTC.fullmatch(drift["since"]) and drift["resources"] == []
    _cli(database_url, "webhooks", "remove", endpoint["id"])


@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_following_events_prints_each_once_under_one_header(
    live_server: LiveServer,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    as_json: bool,
) -> None:
    """The stream is driven by its idle polls: the first adds a user, the third ends it."""
    directory = new_directory(live_server, "followed")
    polls = 0

    def idle(_seconds: float) -> None:
        nonlocal polls
        polls += 1
        if polls == 1:
            assert directory.http.post("/Users", json=user("fay@example.com")).status_code == 201
        if polls == 3:
            raise typer.Exit(0)

    monkeypatch.setattr(events_cli, "time", SimpleNamespace(sleep=idle))
    command = ["events", "list", "--follow", "--directory", directory.directory_id]
    followed = runner.invoke(
        app, [*command, *(["--json"] if as_json else []), "--database-url", database_url]
    )
    directory.http.close()
    assert followed.exit_code == 0, followed.output
    lines = followed.output.splitlines()
    if as_json:
        events = [json.loads(line) for line in lines]
        assert [event["type"] for event in events] == ["directory.activated", "user.created"]
        assert RFC3339_UTC.fullmatch(events[1]["occurred_at"])
        return
    header, *rows = lines
    assert header.split() == ["seq", "occurred", "type", "directory", "subject"]
    assert len(rows) == 2, followed.output
    assert rows[1].split()[-3:] == ["user.created", directory.directory_id, "fay@example.com"]
    assert not any(line.lstrip().startswith("seq") for line in rows)


def _commands(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def test_help_names_parameters_as_the_usage_lines_do() -> None:
    for path in _commands(get_command(app)):
        shown = runner.invoke(app, [*path, "--help"], env=WIDE)
        assert shown.exit_code == 0, (path, shown.output)
        for typed in ("<bool>", "<str>", "<int>", "<float>", "<datetime>", "{"):
            assert typed not in shown.output, (path, typed, shown.output)

    def usage(*path: str) -> str:
        return " ".join(runner.invoke(app, [*path, "--help"], env=WIDE).output.split())

    created = usage("directories", "create")
    assert "directories create [OPTIONS] NAME" in created
    assert "--org ORG" in created and "entra|okta|google" in created
    assert "--database-url URL" in created
    assert "--dry-run --no-dry-run Hold" in created  # a flag, without a value
    assert "[OPTIONS] DIRECTORY_ID USER_ID" in usage("users", "history")
    assert "--users N" in usage("simulate") and "--since TIME" in usage("drift")
    assert "[OPTIONS] [KEY_ID]" in usage("encryption", "new-key")
    assert "Missing argument 'DIRECTORY_ID'" in runner.invoke(app, ["tokens", "list"]).output
