"""`scimgate simulate` rehearses each identity provider's lifecycle against the live server."""

import json
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from conftest import LiveServer, free_port, new_directory, serving
from scimgate.cli.main import app
from scimgate.config import RateLimits
from scimgate.simulator import wire
from scimgate.simulator.dialects import DIALECTS, Generic
from scimgate.simulator.population import Person
from scimgate.simulator.runner import MAX_WAIT, Session, retry_after
from scimgate.store.engine import open_engine

USERS = 40
GROUPS = 4
"""Enough for every step of each lifecycle (joiners, movers, leavers) to act on several people:
two of them leave, and where the dialect deletes leavers, one is deleted."""

BEYOND_THE_BURST = 150
"""People whose lifecycle (about 575 requests) goes well beyond the default limits' burst of
200; whether it also outruns their 100 a second depends on the machine's pace."""


@pytest.mark.slow
@pytest.mark.parametrize("idp", sorted(DIALECTS))
def test_full_lifecycle_passes(live_server: LiveServer, idp: str) -> None:
    _rehearse(live_server, idp, concurrency=1)


@pytest.mark.slow
@pytest.mark.parametrize("idp", ["entra", "okta"])
def test_full_lifecycle_passes_with_requests_in_flight(live_server: LiveServer, idp: str) -> None:
    """Eight requests at once within each step end in the same directory as one at a time."""
    _rehearse(live_server, idp, concurrency=8)


def _rehearse(live_server: LiveServer, idp: str, concurrency: int) -> None:
    directory = new_directory(live_server, f"simulated {idp} x{concurrency}")
    result = CliRunner().invoke(
        app,
        ["simulate", "--url", directory.base_url, "--token", directory.token, "--idp", idp,
         "--users", str(USERS), "--groups", str(GROUPS), "--concurrency", str(concurrency)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"{idp} lifecycle passed" in result.output
    everyone = directory.http.get("/Users", params={"count": 0}).json()["totalResults"]
    # One in twenty leaves (is deactivated); dialects that delete users delete half of them.
    leavers = len(range(2, USERS, 20))
    deleted = (leavers + 1) // 2 if DIALECTS[idp].deletes_users else 0
    assert everyone == USERS - deleted
    inactive = directory.http.get("/Users", params={"filter": "active eq false", "count": 0})
    assert inactive.json()["totalResults"] == leavers - deleted
    pushed = GROUPS if DIALECTS[idp].pushes_groups else 0
    assert directory.http.get("/Groups", params={"count": 0}).json()["totalResults"] == pushed


def _rehearse_under(
    limits: dict[str, str], database_url: str, tmp_path: Path, users: int, groups: int
) -> str:
    """Entra's lifecycle against a server of its own with these rate limits; it must pass.
    What the simulator printed."""
    with serving(database_url, tmp_path / "server.log", **limits) as url:
        engine = open_engine(database_url)
        try:
            directory = new_directory(LiveServer(url, engine), "rate limits")
            result = CliRunner().invoke(
                app,
                ["simulate", "--url", directory.base_url, "--token", directory.token,
                 "--idp", "entra", "--users", str(users), "--groups", str(groups)],
            )  # fmt: skip
            directory.http.close()
        finally:
            engine.dispose()
    assert result.exit_code == 0, result.output
    assert "entra lifecycle passed" in result.output
    return result.output


def test_a_rehearsal_against_the_default_rate_limits_passes(
    database_url: str, tmp_path: Path
) -> None:
    """The limits a fresh ``scimgate serve`` has: the simulator honours ``Retry-After``."""
    limits = RateLimits()
    assert limits.per_directory is not None and limits.per_token is not None
    defaults = {
        "SCIMGATE_DIRECTORY_RATE": str(limits.per_directory.rate),
        "SCIMGATE_DIRECTORY_BURST": str(limits.per_directory.burst),
        "SCIMGATE_TOKEN_RATE": str(limits.per_token.rate),
        "SCIMGATE_TOKEN_BURST": str(limits.per_token.burst),
    }
    _rehearse_under(defaults, database_url, tmp_path, BEYOND_THE_BURST, 15)


def test_a_rehearsal_faster_than_the_limits_waits_out_each_429(
    database_url: str, tmp_path: Path
) -> None:
    """Limits far below the simulator's pace: it is throttled for certain, and still passes.

    The rehearsal sends 40 requests; after a burst of 20, each wait of ``Retry-After: 1``
    earns 10 more. It sends its first 24 within a fraction of a second on any machine.
    """
    limits = {
        "SCIMGATE_DIRECTORY_RATE": "10",
        "SCIMGATE_DIRECTORY_BURST": "20",
        "SCIMGATE_TOKEN_RATE": "0",
    }
    printed = _rehearse_under(limits, database_url, tmp_path, 10, 2)
    assert "asked to slow down" in printed, printed


def test_a_refused_token_stops_the_rehearsal_with_the_reason(live_server: LiveServer) -> None:
    directory = new_directory(live_server, "wrong token")
    result = CliRunner().invoke(
        app, ["simulate", "--url", directory.base_url, "--token", "scimgate_wrong", "--users", "5"]
    )
    assert result.exit_code == 1
    assert "Stopped: the server refused the token: 401 Unauthorized: " in result.output
    assert "lifecycle failed (1 failure): 1 request in" in result.output
    assert "/Users/None" not in result.output


def test_a_server_out_of_reach_stops_the_rehearsal_at_once() -> None:
    url = f"http://127.0.0.1:{free_port()}/scim/v2/{uuid.uuid4()}"
    result = CliRunner().invoke(app, ["simulate", "--url", url, "--token", "t", "--users", "5"])
    assert result.exit_code == 1
    assert "Stopped: cannot reach" in result.output and "ConnectError" in result.output
    assert "1 request in" in result.output


class _RefusingUsers(BaseHTTPRequestHandler):
    """A SCIM server that answers discovery and lookups, and refuses every new resource."""

    def do_GET(self) -> None:
        self._answer(200, {"totalResults": 0, "Resources": []})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self._answer(500, {"detail": "refused"})

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        sent = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/scim+json")
        self.send_header("Content-Length", str(len(sent)))
        self.end_headers()
        self.wfile.write(sent)

    def log_message(self, *_: Any) -> None:
        pass


def test_failures_are_counted_once_per_request_and_those_not_shown_are_counted() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RefusingUsers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/scim/v2/{uuid.uuid4()}"
        result = CliRunner().invoke(
            app, ["simulate", "--url", url, "--token", "t", "--users", "30", "--groups", "2"]
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 1
    # 30 users and 2 groups looked up and refused; nothing is sent for what was not created.
    assert "lifecycle failed (32 failures): 68 requests" in result.output, result.output
    assert "... and 12 more failures not shown" in result.output
    assert "/Users/None" not in result.output
    for row in re.findall(r"│ ([a-z:, ]+?)\s+│ (\d+)\s+│ (\d+)\s+│", result.output):
        assert int(row[2]) <= int(row[1]), row


@pytest.mark.parametrize(("leavers", "held"), [(None, False), ("50", True)])
def test_the_run_ends_with_the_safety_valves_state(
    live_server: LiveServer, database_url: str, leavers: str | None, held: bool
) -> None:
    """By default a rehearsal stays under the valve; asked for many leavers, it trips it."""
    directory = new_directory(live_server, "valve")
    asked = ["--leavers", leavers] if leavers else []
    result = CliRunner().invoke(
        app,
        ["simulate", "--url", directory.base_url, "--token", directory.token, "--users", "40",
         "--groups", "2", "--database-url", database_url, *asked],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    if held:
        assert "Safety valve: the directory's events are held (held)" in result.output
        assert f"scimgate held release {directory.directory_id}" in result.output
    else:
        assert "Safety valve: not tripped" in result.output


def test_the_valve_of_a_directory_elsewhere_is_not_guessed(
    live_server: LiveServer, tmp_path: Path
) -> None:
    directory = new_directory(live_server, "valve elsewhere")
    result = CliRunner().invoke(
        app,
        ["simulate", "--url", directory.base_url, "--token", directory.token, "--users", "10",
         "--groups", "1", "--database-url", f"sqlite:///{tmp_path / 'absent.db'}"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Safety valve: not visible from here" in result.output
    assert not (tmp_path / "absent.db").exists()


class _Keeping:
    """The session's client, keeping every JSON body sent through it."""

    def __init__(self, client: wire.Client) -> None:
        self.client = client
        self.sent: list[Any] = []

    def request(self, method: str, path: str, **rest: Any) -> wire.Response:
        self.sent.append(rest.get("json"))
        return self.client.request(method, path, **rest)

    def close(self) -> None:
        self.client.close()


def test_the_rfc_dialect_refers_to_a_manager_by_its_location(live_server: LiveServer) -> None:
    directory = new_directory(live_server, "manager reference")
    session = Session(directory.base_url, directory.token, Generic.user_agent)
    session.http = keeping = _Keeping(session.http)  # type: ignore[assignment]
    people = [
        Person(f"k{n}", f"p{n}@example.com", "Given", "Family", "Sales", "Rep", None)
        for n in (1, 2)
    ]
    with session.step("manager"):
        for person in people:
            created = session.send("POST", "/Users", (201,), json=Generic().user_body(person, "x"))
            person.scim_id = created["id"]
        Generic().set_manager(session, people[1], str(people[0].scim_id))
    session.close()
    assert not session.report.failures
    operation = keeping.sent[-1]["Operations"][0]
    location = directory.http.get(f"/Users/{people[0].scim_id}").json()["meta"]["location"]
    directory.http.close()
    assert operation["value"]["$ref"] == location


@pytest.mark.parametrize(
    ("header", "wait"),
    [("2", 2.0), ("0.5", 0.5), ("-3", 0.0), ("3600", MAX_WAIT), (None, None), ("soon", None)],
)
def test_retry_after_is_read_in_seconds_and_capped(header: str | None, wait: float | None) -> None:
    headers = {"Retry-After": header} if header is not None else {}
    assert retry_after(httpx.Response(429, headers=headers)) == wait
