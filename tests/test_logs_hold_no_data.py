"""An unexpected error's log line holds no request data: no body, document or parameter value.

The database is made to refuse every new user, and every provisioning-log
entry, with an error of its own (a trigger), so that a real request meets a
real database error on a real server. On PostgreSQL the error's message quotes
the refused row, as the database's own errors do (``Key (…)=(…) already
exists``); on both backends SQLAlchemy's message would add the statement's
parameters. The server's log must name the error without any of it.
"""

import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from conftest import LiveServer, new_directory, postgres_database, serving
from scim_payloads import user
from scimgate.store.engine import open_engine
from scimgate.store.migrate import upgrade

REFUSING_TRIGGERS = {
    "sqlite": [
        "CREATE TRIGGER refuse_users BEFORE INSERT ON users "
        "BEGIN SELECT RAISE(ABORT, 'users refused'); END",
        "CREATE TRIGGER refuse_logs BEFORE INSERT ON provisioning_logs "
        "BEGIN SELECT RAISE(ABORT, 'log refused'); END",
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_row() RETURNS trigger AS $$ BEGIN "
        "RAISE EXCEPTION 'refused %', row_to_json(NEW)::text; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER refuse_users BEFORE INSERT ON users "
        "FOR EACH ROW EXECUTE FUNCTION refuse_row()",
        "CREATE TRIGGER refuse_logs BEFORE INSERT ON provisioning_logs "
        "FOR EACH ROW EXECUTE FUNCTION refuse_row()",
    ],
}


@pytest.fixture(params=["sqlite", "postgresql"])
def refusing_server(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[LiveServer, Path]]:
    """A server on a database of its own that refuses new users and log entries; its log."""
    backend = request.param
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'refusing.db'}"
        database = None
    else:
        request.getfixturevalue("postgres_url")  # skips (or fails in CI) without PostgreSQL
        database = postgres_database("scimgate_refusing")
        url = database.__enter__()
    try:
        engine = open_engine(url)
        upgrade(engine)
        with engine.begin() as conn:
            for statement in REFUSING_TRIGGERS[backend]:
                conn.execute(text(statement))
        log = tmp_path / "server.log"
        with serving(url, log) as server_url:
            yield LiveServer(server_url, engine), log
        engine.dispose()
    finally:
        if database is not None:
            database.__exit__(None, None, None)


def test_a_database_error_is_logged_without_the_data_it_quotes(
    refusing_server: tuple[LiveServer, Path],
) -> None:
    server, log = refusing_server
    directory = new_directory(server)
    marker = f"sent-{secrets.token_hex(8)}"
    answer = directory.http.post(
        "/Users", json=user(f"{marker}@example.com", title=f"{marker}-title")
    )
    assert answer.status_code == 500, answer.text
    assert marker not in answer.text
    deadline = time.monotonic() + 15
    while "could not write the provisioning log" not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    written = log.read_text()
    assert marker not in written, written
    lines = [json.loads(line) for line in written.splitlines() if line.startswith("{")]
    [unexpected] = [line for line in lines if line.get("event") == "unexpected error"]
    # What failed and where is still told: the error's type and the code it went through.
    assert unexpected["error"].split()[0] in ("IntegrityError", "ProgrammingError")
    assert "resource_writes.py" in unexpected["traceback"]
