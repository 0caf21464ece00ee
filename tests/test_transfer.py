"""A directory exported as JSON lines and imported into another reads the same there."""

import json
from pathlib import Path

from typer.testing import CliRunner

from conftest import DirectoryClient, LiveServer, new_directory
from scim_payloads import ENTERPRISE_SCHEMA, USER_SCHEMA, group, user
from scimgate.cli.main import app
from scimgate.service.administration.directory_view import directory_groups, directory_users
from scimgate.store import membership_lists
from scimgate.store.transactions import reading

runner = CliRunner()


def _picture(server: LiveServer, directory_id: str) -> dict[str, object]:
    """A directory as its users and groups read, with ids replaced by names."""
    _, users = directory_users(server.engine, directory_id, server.url, count=100)
    _, groups = directory_groups(server.engine, directory_id, server.url, count=100)
    names = {u.id: u.username for u in users} | {g.id: g.name for g in groups}
    with reading(server.engine) as conn:
        members = {
            g.name: sorted(
                names[m.id] for m in membership_lists.members_of(conn, directory_id, g.id)
            )
            for g in groups
        }
    return {
        "users": sorted(
            (u.username, u.display_name, u.department, u.state.value, u.idp_id) for u in users
        ),
        "groups": members,
    }


def test_export_then_import_reproduces_a_directory(
    scim: DirectoryClient, live_server: LiveServer, database_url: str, tmp_path: Path
) -> None:
    ann = scim.http.post(
        "/Users",
        json=user(
            "ann@acme.com",
            externalId="a-1",
            displayName="Ann",
            schemas=[USER_SCHEMA, ENTERPRISE_SCHEMA],
            **{ENTERPRISE_SCHEMA: {"department": "R&D"}},
        ),
    ).json()["id"]
    bob = scim.http.post("/Users", json=user("bob@acme.com", active=False)).json()["id"]
    team = scim.http.post("/Groups", json=group("Team", [ann, bob])).json()["id"]
    scim.http.post("/Groups", json=group("Everyone", [team, ann]))

    exported = tmp_path / "directory.jsonl"
    result = runner.invoke(
        app,
        ["export", scim.directory_id, "--output", str(exported), "--database-url", database_url],
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(text) for text in exported.read_text().splitlines()]
    assert [line["resourceType"] for line in lines] == ["User", "User", "Group", "Group"]
    assert "password" not in exported.read_text()

    target = new_directory(live_server, "copy")
    result = runner.invoke(
        app, ["import", target.directory_id, str(exported), "--database-url", database_url]
    )
    assert result.exit_code == 0, result.output
    assert "Imported 2 users, 2 groups, 4 memberships; 0 refused." in result.output
    assert _picture(live_server, target.directory_id) == _picture(live_server, scim.directory_id)

    again = runner.invoke(
        app, ["import", target.directory_id, str(exported), "--database-url", database_url]
    )
    assert again.exit_code == 1
    assert "line 1 (User" in again.output and "already belongs" in again.output
    target.http.close()
