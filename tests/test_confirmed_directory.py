"""A SCIM write builds its events from the directory its request confirmed.

A request's credential stamp confirms the directory row the process holds, so
the writing transaction does not read that row again
(``service.provisioning.directory_config``); on SQLite it reads the stamp
instead, in the transaction that holds the database. Whatever changes the row
first (the directory's first request, a recognised IdP, a new rule or mapping)
is still in the events of the writes that follow. The requests run in process
against the real app, with every SQL statement recorded.
"""

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event
from starlette.testclient import TestClient

from event_support import published
from scim_payloads import group, patch, user
from scimgate.api.app import create_app
from scimgate.config import Settings
from scimgate.service.administration import attribute_mappings, roles, tenants


def _reads_the_directory(statement: str) -> bool:
    """A plain read of a directory row: not the token's read, which joins it, nor the lock
    that publishing takes."""
    return (
        re.match(r"\s*SELECT\b", statement) is not None
        and re.search(r"\bFROM directories\b", statement) is not None
        and "FOR NO KEY UPDATE" not in statement
        and "scim_tokens" not in statement
    )


def _reads_the_stamp(statement: str) -> bool:
    return re.search(r"\bFROM credential_stamps\b", statement) is not None


class Served:
    """The app in process, with the directory and stamp reads its engine runs while
    recording (the requests' own stamp reads are the driver's, outside it)."""

    def __init__(self, client: TestClient, engine: Engine) -> None:
        self.client = client
        self.engine = engine
        self.recording = False
        self.reads: list[str] = []
        self.stamp_reads: list[str] = []
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if self.recording and _reads_the_directory(statement):
            self.reads.append(statement)
        if self.recording and _reads_the_stamp(statement):
            self.stamp_reads.append(statement)

    def directory(self, headers: dict[str, str] | None = None) -> tuple[str, dict[str, str]]:
        """A new generic directory: its id, and the headers its requests send."""
        organization = tenants.create_organization(self.engine, "Confirmed")
        created = tenants.create_directory(self.engine, organization.id, "confirmed")
        sent = {"Authorization": f"Bearer {created.token.secret}", **(headers or {})}
        return created.directory.id, sent


@pytest.fixture
def served(database_url: str) -> Iterator[Served]:
    app = create_app(Settings(database_url=database_url))
    with TestClient(app) as client:
        yield Served(client, app.state.engine)


def test_writes_read_no_directory_row_and_on_sqlite_its_stamp(served: Served) -> None:
    directory_id, headers = served.directory()
    base = f"/scim/v2/{directory_id}"
    client = served.client
    # The first request activates the directory: it changes the row, and reads it.
    assert client.get(f"{base}/Users", headers=headers).status_code == 200

    served.recording = True
    ann = client.post(f"{base}/Users", json=user("ann@example.com"), headers=headers)
    assert ann.status_code == 201, ann.text
    ann_id = ann.json()["id"]
    title = {"op": "replace", "path": "title", "value": "Engineer"}
    patched = client.patch(f"{base}/Users/{ann_id}", json=patch(title), headers=headers)
    assert patched.status_code == 200, patched.text
    team = client.post(f"{base}/Groups", json=group("Team", [ann_id]), headers=headers)
    assert team.status_code == 201, team.text
    assert client.delete(f"{base}/Users/{ann_id}", headers=headers).status_code == 204
    served.recording = False

    writes = 4
    assert served.reads == []
    sqlite = served.engine.dialect.name == "sqlite"
    assert len(served.stamp_reads) == (writes if sqlite else 0)


def test_what_changes_the_directory_is_in_the_next_writes_events(served: Served) -> None:
    directory_id, headers = served.directory()
    base = f"/scim/v2/{directory_id}"
    client = served.client
    # The first request activates the directory; its token is then known to the process.
    assert client.get(f"{base}/Users", headers=headers).status_code == 200
    # Recognised from a write, which changes the row as it is noted: Okta maps ``locale``.
    okta = {**headers, "User-Agent": "Okta SCIM Client 1.0.0"}
    first = client.post(
        f"{base}/Users", json={**user("ann@example.com"), "locale": "fr-FR"}, headers=okta
    )
    assert first.status_code == 201, first.text
    roles.add_rule(served.engine, directory_id, "default", "", "member", 1000)
    second = client.post(f"{base}/Users", json=user("bob@example.com"), headers=headers)
    assert second.status_code == 201, second.text
    attribute_mappings.set_mapping(served.engine, directory_id, "given", "name.givenName")
    third = client.post(
        f"{base}/Users", json=user("cy@example.com", name={"givenName": "Cy"}), headers=headers
    )
    assert third.status_code == 201, third.text

    created = {
        each.data["user"]["username"]: each.data["user"]
        for each in published(served.engine, directory_id)
        if each.type == "user.created"
    }
    assert created["ann@example.com"]["custom_attributes"]["locale"] == "fr-FR"
    assert created["ann@example.com"]["roles"] == []
    assert created["bob@example.com"]["roles"] == ["member"]
    assert "given" not in created["bob@example.com"]["custom_attributes"]
    assert created["cy@example.com"]["roles"] == ["member"]
    assert created["cy@example.com"]["custom_attributes"]["given"] == "Cy"
