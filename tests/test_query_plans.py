"""The queries behind the hot requests use indexes, and a group PATCH touches only what changed.

The requests run in-process against the real app on the real database, with
every SQL statement recorded. Each recorded statement on a resource table is
then explained by the database itself: on PostgreSQL with sequential scans
disabled, so that a plan still scanning a table means no index can serve the
query; on SQLite, a ``SCAN`` of such a table means the same. Nothing here is
timed.
"""

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import Engine, event
from starlette.testclient import TestClient

from plan_support import explained
from scim_payloads import BULK_SCHEMA, group, patch, user
from scimgate.api.app import create_app
from scimgate.config import Settings
from scimgate.service.administration import tenants

TABLES = ("users", "groups", "group_members")
MEMBERS = 300
"""The group's size: a statement returning that many rows would be reading the whole list."""

_TOUCHES = re.compile(r"\b(?:FROM|JOIN|UPDATE|INTO)\s+\"?(users|groups|group_members)\b", re.I)


@dataclass
class Recorder:
    """The statements an engine runs while ``recording`` is on, with their parameters."""

    recording: bool = False
    statements: list[tuple[str, Any]] = field(default_factory=list)
    written: list[tuple[str, int]] = field(default_factory=list)
    """Each write to ``group_members`` with the number of rows it changed."""

    def before(self, conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if self.recording and _TOUCHES.search(statement):
            self.statements.append((statement, parameters))

    def after(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        writes = re.match(r"\s*(INSERT|UPDATE|DELETE)", statement, re.I)
        if self.recording and writes and "group_members" in statement:
            self.written.append((statement, cursor.rowcount))

    def start(self) -> None:
        self.statements.clear()
        self.written.clear()
        self.recording = True


@dataclass
class Served:
    client: TestClient
    engine: Engine
    recorder: Recorder
    user_ids: list[str]
    group_id: str
    group_name: str


@dataclass
class Population:
    """The app, with a directory of ``MEMBERS + 2`` users made once for the module."""

    client: TestClient
    engine: Engine
    recorder: Recorder
    user_ids: list[str]


@pytest.fixture(scope="module")
def population(database_url: str) -> Iterator[Population]:
    app = create_app(Settings(database_url=database_url))
    engine: Engine = app.state.engine
    recorder = Recorder()
    event.listen(engine, "before_cursor_execute", recorder.before)
    event.listen(engine, "after_cursor_execute", recorder.after)
    organization = tenants.create_organization(engine, "plans")
    created = tenants.create_directory(engine, organization.id, "plans")
    headers = {
        "Authorization": f"Bearer {created.token.secret}",
        "Content-Type": "application/scim+json",
    }
    base = f"/scim/v2/{created.directory.id}"
    with TestClient(app, base_url=f"http://testserver{base}", headers=headers) as client:
        # One Bulk request: in process, each request also waits for its log entry's batch.
        operations = [
            {
                "method": "POST",
                "path": "/Users",
                "bulkId": f"u{index}",
                "data": user(f"u{index}@plans.io", externalId=f"x{index}"),
            }
            for index in range(MEMBERS + 2)
        ]
        answer = client.post("/Bulk", json={"schemas": [BULK_SCHEMA], "Operations": operations})
        assert answer.status_code == 200, answer.text
        done = answer.json()["Operations"]
        assert [each["status"] for each in done] == ["201"] * len(operations), done
        user_ids = [each["location"].rsplit("/", 1)[1] for each in done]
        yield Population(client, engine, recorder, user_ids)


@pytest.fixture
def served(population: Population) -> Served:
    """A new group of ``MEMBERS`` of the population's users, which the test may change."""
    name = f"Team {secrets.token_hex(3)}"
    team = population.client.post("/Groups", json=group(name, population.user_ids[:MEMBERS]))
    assert team.status_code == 201
    return Served(
        population.client,
        population.engine,
        population.recorder,
        population.user_ids,
        team.json()["id"],
        name,
    )


def _full_scans(engine: Engine, recorder: Recorder) -> list[str]:
    """The recorded statements whose plan reads a whole resource table."""
    found = []
    for statement, parameters in recorder.statements:
        if isinstance(parameters, list) or statement.lstrip().upper().startswith("INSERT"):
            continue  # batched inserts: nothing is looked up
        plan = explained(engine, statement, parameters)
        for table in TABLES:
            if engine.dialect.name == "postgresql":
                scanned = re.search(rf"Seq Scan on {table}\b", plan)
            else:
                scanned = re.search(rf"^SCAN {table}\b(?!.*USING (COVERING )?INDEX)", plan, re.M)
            if scanned:
                found.append(f"{statement}\n{plan}")
    return found


def test_lookups_by_user_name_and_external_id_use_indexes(served: Served) -> None:
    for scim_filter in ('userName eq "U7@PLANS.IO"', 'externalId eq "x7"'):
        served.recorder.start()
        found = served.client.get("/Users", params={"filter": scim_filter})
        served.recorder.recording = False
        assert found.json()["totalResults"] == 1
        assert served.recorder.statements, "the lookup was recorded"
        assert _full_scans(served.engine, served.recorder) == [], scim_filter


@pytest.mark.parametrize(
    "operation",
    [
        pytest.param(
            lambda member: {"op": "add", "path": "members", "value": [{"value": member}]},
            id="okta-add",
        ),
        pytest.param(
            lambda member: {"op": "Add", "path": "members", "value": [{"value": member}]},
            id="entra-add",
        ),
        pytest.param(
            lambda member: {"op": "remove", "path": f'members[value eq "{member}"]'},
            id="remove-by-filter",
        ),
        pytest.param(
            lambda member: {"op": "Remove", "path": "members", "value": [{"value": member}]},
            id="entra-remove",
        ),
    ],
)
def test_a_membership_change_touches_only_its_own_row(served: Served, operation: Any) -> None:
    newcomer, member = served.user_ids[MEMBERS], served.user_ids[0]
    target = newcomer if "add" in str(operation(newcomer)["op"]).lower() else member
    served.recorder.start()
    answer = served.client.patch(f"/Groups/{served.group_id}", json=patch(operation(target)))
    served.recorder.recording = False
    assert answer.status_code in (200, 204), answer.text
    assert served.recorder.written, "the membership row was written"
    assert all(changed <= 1 for _, changed in served.recorder.written), served.recorder.written
    assert _full_scans(served.engine, served.recorder) == []
    for statement, parameters in served.recorder.statements:
        if "group_members" in statement and statement.lstrip().upper().startswith("SELECT"):
            with served.engine.connect() as conn:
                rows = conn.exec_driver_sql(statement, parameters).fetchall()
            assert len(rows) < 10, f"read {len(rows)} membership rows:\n{statement}"


def test_reading_a_group_without_members_reads_no_membership(served: Served) -> None:
    served.recorder.start()
    answer = served.client.get(
        f"/Groups/{served.group_id}", params={"excludedAttributes": "members"}
    )
    served.recorder.recording = False
    assert answer.status_code == 200
    assert "members" not in answer.json()
    assert _full_scans(served.engine, served.recorder) == []
    assert not [s for s, _ in served.recorder.statements if "group_members" in s]


def test_looking_a_group_up_without_members_reads_no_membership(served: Served) -> None:
    """Entra's group lookup: the name through its index, and not one of the 300 members."""
    served.recorder.start()
    answer = served.client.get(
        "/Groups",
        params={
            "filter": f'displayName eq "{served.group_name.upper()}"',
            "excludedAttributes": "members",
        },
    )
    served.recorder.recording = False
    assert answer.status_code == 200
    assert answer.json()["totalResults"] == 1
    assert "members" not in answer.json()["Resources"][0]
    assert served.recorder.statements, "the lookup was recorded"
    assert _full_scans(served.engine, served.recorder) == []
    assert not [s for s, _ in served.recorder.statements if "group_members" in s]
