"""Directory data on a terminal: control characters shown escaped, never sent raw.

A userName may carry a terminal escape sequence ("\\x1b[31m"); scimgate keeps
what the IdP sent, but every command that prints directory data writes such
characters out visibly (``\\x1b``), and square brackets stay text, not markup.
"""

import time
from collections.abc import Callable

import pytest
from typer.testing import CliRunner

from conftest import DirectoryClient, LiveServer
from scim_payloads import group, user
from scimgate.cli.main import app
from scimgate.store import tenants
from scimgate.store.transactions import reading

HOSTILE = "ann\x1b[31m[bold]red\x1b]0;owned\x07\u202eevil\x9b2J"
"""A colour change, Rich markup, a window-title change, a bidi override and a C1 CSI."""

ESCAPED = "ann\\x1b[31m[bold]red\\x1b]0;owned\\x07\\u202eevil\\x9b2J"

runner = CliRunner()


def test_control_characters_are_written_out() -> None:
    from scimgate.cli.common import shown  # imported here: the listings run on older code too

    assert shown(HOSTILE).plain == ESCAPED
    assert shown("tab\there\nnew line").plain == "tab\\x09here\\x0anew line"
    assert shown("Zoë [b]Ünïcode[/b] 名前").plain == "Zoë [b]Ünïcode[/b] 名前"
    assert shown(None).plain == ""


def _raw_free(output: str) -> None:
    for character in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert character not in output, repr(output)


@pytest.fixture
def hostile(scim: DirectoryClient, live_server: LiveServer, database_url: str) -> dict[str, str]:
    """A user and a group named with escape sequences, a logged failure, a deletion."""
    created = scim.http.post("/Users", json=user(HOSTILE, displayName=HOSTILE, title=HOSTILE))
    assert created.status_code == 201, created.text
    conflict = scim.http.post("/Users", json=user(HOSTILE))
    assert conflict.status_code == 409, conflict.text
    made = scim.http.post("/Groups", json=group(HOSTILE))
    assert made.status_code == 201, made.text
    doomed = scim.http.post("/Users", json=user(HOSTILE + "2")).json()["id"]
    assert scim.http.delete(f"/Users/{doomed}").status_code == 204
    with reading(live_server.engine) as conn:
        directory = tenants.get_directory(conn, scim.directory_id)
    assert directory is not None
    return {
        "directory": scim.directory_id,
        "user": created.json()["id"],
        "organization": directory.organization_id,
        "request": conflict.headers.get("x-request-id", ""),
        "database": database_url,
    }


LISTINGS: dict[str, Callable[[dict[str, str]], list[str]]] = {
    "users list": lambda h: ["users", "list", h["directory"]],
    "groups list": lambda h: ["groups", "list", h["directory"]],
    "users history": lambda h: ["users", "history", h["directory"], h["user"]],
    "logs list": lambda h: ["logs", "list", h["directory"]],
    "logs show": lambda h: ["logs", "show", h["request"]],
    "drift": lambda h: ["drift", h["directory"], "--older-than", "0"],
    "events list": lambda h: ["events", "list", "--directory", h["directory"], "--limit", "1000"],
    "offboarding report": lambda h: ["offboarding", "report", "--org", h["organization"]],
}
SHOWS_A_NAME = set(LISTINGS) - {"users history"}
"""The listings with a column of names (a user's history lists event types only)."""


@pytest.mark.parametrize("listing", LISTINGS)
def test_every_listing_escapes_what_the_idp_sent(hostile: dict[str, str], listing: str) -> None:
    arguments = [*LISTINGS[listing](hostile), "--database-url", hostile["database"]]
    deadline = time.monotonic() + 10
    while True:  # the log and the events are written just after the answers
        result = runner.invoke(app, arguments)
        named = listing not in SHOWS_A_NAME or "ann\\x1b" in result.output
        if result.exit_code == 0 and named:
            break
        assert time.monotonic() < deadline, result.output
        time.sleep(0.1)
    _raw_free(result.output)
    if listing in SHOWS_A_NAME:
        assert "[bold]red" in result.output, result.output
