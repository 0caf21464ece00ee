"""The drift report finds what the IdP stopped sending, and nothing else."""

import re
import time
from datetime import UTC, datetime

import httpx
from typer.testing import CliRunner

from conftest import ADMIN_TOKEN, LiveServer, new_directory
from scimgate.cli.main import app
from scimgate.service.confirmations import drift_report


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
