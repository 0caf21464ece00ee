"""The drift report finds what the IdP stopped sending, and nothing else."""

import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import httpx
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from conftest import ADMIN_TOKEN, DirectoryClient, LiveServer, eventually, new_directory
from scim_payloads import user
from scimgate.cli.main import app
from scimgate.service.administration import tenants
from scimgate.service.operations import provisioning_log
from scimgate.service.provisioning.confirmations import drift_report
from scimgate.store.tables.resources import users
from scimgate.store.transactions import reading, writing


def settled(server: LiveServer, directory: DirectoryClient) -> None:
    """Wait until the provisioning-log writer has written what the directory's requests so far
    left it (their reads' confirmations among it): it writes in order, so until one more
    request's entry is written."""
    request_id = secrets.token_hex(8)
    answer = directory.http.get("/ServiceProviderConfig", headers={"X-Request-Id": request_id})
    assert answer.status_code == 200
    eventually(lambda: provisioning_log.find(server.engine, request_id) is not None)


def test_a_user_the_idp_stopped_sending_is_reported(
    live_server: LiveServer, database_url: str
) -> None:
    directory = new_directory(live_server, "drifting")
    runner = CliRunner()

    def cycle(users: int) -> None:
        result = runner.invoke(
            app,
            ["simulate", "--url", directory.base_url, "--token", directory.token,
             "--idp", "entra", "--users", str(users), "--groups", "5"],
        )  # fmt: skip
        assert result.exit_code == 0, result.output

    cycle(60)
    time.sleep(0.01)
    second_cycle_started = datetime.now(UTC)
    cycle(59)  # the last person fell out of the IdP's scope without being deprovisioned
    settled(live_server, directory)

    found = drift_report(live_server.engine, directory.directory_id, second_cycle_started)
    assert [item.kind for item in found] == ["user"]
    assert re.search(r"\.59@example\.com$", found[0].name), found[0].name

    printed = runner.invoke(
        app,
        ["drift", directory.directory_id, "--since", second_cycle_started.isoformat(),
         "--database-url", database_url],
    )  # fmt: skip
    assert printed.exit_code == 0, printed.output
    assert found[0].id in printed.output
    assert "1 not confirmed since" in printed.output

    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    # The application reading its users confirms nothing: only the IdP does.
    users_api = f"{live_server.url}/api/v1/directories/{directory.directory_id}/users"
    assert httpx.get(users_api, params={"count": 1000}, headers=admin).status_code == 200
    api = f"{live_server.url}/api/v1/directories/{directory.directory_id}/drift"
    answered = httpx.get(
        api,
        params={"since": second_cycle_started.isoformat()},
        headers=admin,
    )
    assert answered.status_code == 200, answered.text
    assert [(each["kind"], each["id"]) for each in answered.json()["resources"]] == [
        ("user", found[0].id)
    ]
    neither = httpx.get(api, headers=admin)
    assert neither.status_code == 400
    assert "exactly one" in neither.json()["detail"]
    with_scim_token = httpx.get(
        api,
        params={"older_than_hours": 1},
        headers={"Authorization": f"Bearer {directory.token}"},
    )
    assert with_scim_token.status_code == 401


@contextmanager
def writes_held(engine: Engine) -> Iterator[None]:
    """Another transaction holding what any write to the users table needs, until the end:
    SQLite's one write lock (``BEGIN IMMEDIATE``), or on PostgreSQL a lock that lets reads
    pass and makes writes wait."""
    with writing(engine) as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("LOCK TABLE users IN EXCLUSIVE MODE")
        yield


def test_reads_confirm_what_they_show_without_writing(live_server: LiveServer) -> None:
    """A read is answered while writes wait (it opens no write transaction), even with a
    token used for the first time; what it showed is confirmed, and the token's use
    recorded, once they can go on, by the provisioning log's writer."""
    directory = new_directory(live_server, "read only")
    created = directory.http.post("/Users", json=user("reader@example.com"))
    assert created.status_code == 201
    user_id = created.json()["id"]
    reader = tenants.create_token(live_server.engine, directory.directory_id, "reader")
    as_reader = {"Authorization": f"Bearer {reader.secret}"}

    def confirmed_at() -> datetime | None:
        with reading(live_server.engine) as conn:
            found: datetime | None = conn.execute(
                select(users.c.confirmed_at).where(users.c.id == user_id)
            ).scalar_one()
            return found

    settled(live_server, directory)
    written_by_create = confirmed_at()
    with writes_held(live_server.engine):
        # Were a read to write, it would wait for the lock: the time-out only ends the wait.
        shown = directory.http.get(f"/Users/{user_id}", headers=as_reader, timeout=5)
        assert shown.status_code == 200
        listed = directory.http.get(
            "/Users",
            params={"filter": 'userName eq "reader@example.com"'},
            headers=as_reader,
            timeout=5,
        )
        assert listed.status_code == 200
        assert listed.json()["totalResults"] == 1
        assert confirmed_at() == written_by_create
    eventually(lambda: (confirmed_at() or datetime.min.replace(tzinfo=UTC)) > written_by_create)
    eventually(
        lambda: any(
            token.id == reader.record.id and token.last_used_at is not None
            for token in tenants.list_tokens(live_server.engine, directory.directory_id)
        )
    )
