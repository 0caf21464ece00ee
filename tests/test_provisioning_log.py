"""The provisioning log: what each directory's IdP sent, what it got back, and why it failed."""

import json
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from conftest import ADMIN_TOKEN, DirectoryClient, LiveServer, new_directory, serving
from factories import log_entry
from scim_payloads import BULK_SCHEMA, patch, user
from scimgate.cli.main import app as cli
from scimgate.config import LogPolicy
from scimgate.service.operations.provisioning_log import (
    CapturedRequest,
    purge_expired,
    record,
    scrub,
)
from scimgate.service.portal.diagnosis import Facts, diagnose
from scimgate.store import tenants
from scimgate.store.provisioning_logs import LogEntry
from scimgate.store.tables.logs import provisioning_logs
from scimgate.store.transactions import reading

SECRET_PASSWORD = "Hunter2-never-stored"


def logged(admin: httpx.Client, directory_id: str, count: int, **params: Any) -> list[Any]:
    """The directory's log entries matching ``params``, once at least ``count`` are written."""
    deadline = time.monotonic() + 10
    while True:
        answer = admin.get(f"/directories/{directory_id}/logs", params={"limit": 500, **params})
        assert answer.status_code == 200, answer.text
        found: list[Any] = answer.json()["data"]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def raw_rows(engine: Engine, directory_id: str) -> str:
    """Every stored column of the directory's log, as one text to search."""
    with reading(engine) as conn:
        rows = conn.execute(
            select(provisioning_logs).where(provisioning_logs.c.directory_id == directory_id)
        )
        return json.dumps([dict(row._mapping) for row in rows], default=str)


def one(entries: list[Any], method: str, status: int) -> dict[str, Any]:
    matching = [e for e in entries if e["method"] == method and e["status"] == status]
    assert len(matching) == 1, entries
    found: dict[str, Any] = matching[0]
    return found


@pytest.fixture
def failures(scim: DirectoryClient, admin: httpx.Client) -> list[Any]:
    """A create, a 409 duplicate, a 404, a PATCH with a bad path and a Bulk with a password."""
    created = scim.http.post("/Users", json=user("alice@acme.com", password=SECRET_PASSWORD))
    assert created.status_code == 201, created.text
    assert scim.http.post("/Users", json=user("Alice@acme.com")).status_code == 409
    assert scim.http.get(f"/Users/{secrets.token_hex(4)}").status_code == 404
    bad_path = patch({"op": "replace", "path": "nonsense..attr", "value": "x"})
    assert scim.http.patch(f"/Users/{created.json()['id']}", json=bad_path).status_code == 400
    bulk = {
        "schemas": [BULK_SCHEMA],
        "Operations": [
            {
                "method": "POST",
                "path": "/Users",
                "bulkId": "b1",
                "data": user("bob@acme.com", password=SECRET_PASSWORD),
            }
        ],
    }
    assert scim.http.post("/Bulk", json=bulk).status_code == 200
    return logged(admin, scim.directory_id, 5)


def test_every_request_is_logged_with_status_and_resource(
    scim: DirectoryClient, failures: list[Any]
) -> None:
    assert len(failures) == 5
    created = one(failures, "POST", 201)
    assert created["resource_type"] == "User"
    assert created["user_name"] == "alice@acme.com"
    assert created["resource_id"]
    assert created["latency_ms"] >= 0
    assert created["client"] is None, "httpx names no IdP, whatever the directory declares"
    assert created["diagnosis"] is None
    assert "request_body" not in created
    conflict = one(failures, "POST", 409)
    assert conflict["scim_type"] == "uniqueness"
    assert conflict["user_name"] == "Alice@acme.com"
    missing = one(failures, "GET", 404)
    assert missing["resource_type"] == "User"
    assert missing["path"] == f"/scim/v2/{scim.directory_id}/Users/{missing['resource_id']}"
    assert "never provisioned here" in missing["diagnosis"]
    bad_patch = one(failures, "PATCH", 400)
    assert bad_patch["scim_type"] == "invalidPath"
    assert bad_patch["resource_id"] == created["resource_id"]
    assert "attribute mappings" in bad_patch["diagnosis"]
    assert one(failures, "POST", 200)["resource_type"] == "Bulk"


def test_conflict_diagnosis_names_the_holder_and_its_state(
    scim: DirectoryClient, admin: httpx.Client, failures: list[Any]
) -> None:
    holder = one(failures, "POST", 201)["resource_id"]
    diagnosis = one(failures, "POST", 409)["diagnosis"]
    assert f"already belongs to user {holder}" in diagnosis
    assert "active" in diagnosis and "deactivated" not in diagnosis

    deactivate = patch({"op": "replace", "path": "active", "value": False})
    assert scim.http.patch(f"/Users/{holder}", json=deactivate).status_code == 200
    assert scim.http.post("/Users", json=user("ALICE@acme.com")).status_code == 409
    conflicts = logged(admin, scim.directory_id, 2, status="409")
    assert len(conflicts) == 2
    newest = conflicts[0]["diagnosis"]
    assert f"already belongs to user {holder}, deactivated just now" in newest


def test_an_entry_has_its_bodies_and_is_found_by_request_id(
    scim: DirectoryClient, admin: httpx.Client, failures: list[Any]
) -> None:
    conflict = one(failures, "POST", 409)
    detail = admin.get(f"/directories/{scim.directory_id}/logs/{conflict['id']}")
    assert detail.status_code == 200
    body = detail.json()
    assert body["request_body"]["userName"] == "Alice@acme.com"
    assert body["response_body"]["scimType"] == "uniqueness"
    assert body["diagnosis"] == conflict["diagnosis"]
    by_request = admin.get(f"/logs/{conflict['request_id']}")
    assert by_request.status_code == 200
    assert by_request.json()["id"] == conflict["id"]
    assert admin.get(f"/logs/{secrets.token_hex(8)}").status_code == 404


def test_an_answer_is_logged_as_it_was_sent(scim: DirectoryClient, admin: httpx.Client) -> None:
    """Answers written from a document hand it to the log instead of being parsed back: what
    is stored is still what the client read, whatever shape the answer took."""
    created = scim.http.post("/Users", json=user("carol@acme.com"))
    group = scim.http.post(
        "/Groups",
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Readers",
            "members": [{"value": created.json()["id"]}],
        },
    )
    answers = [
        created,
        group,
        scim.http.get("/Users", params={"filter": 'userName eq "carol@acme.com"'}),
        scim.http.get(f"/Users/{created.json()['id']}"),
        scim.http.get(f"/Groups/{group.json()['id']}", params={"excludedAttributes": "members"}),
        scim.http.get("/Users", params={"attributes": "userName"}),
        scim.http.post("/Users", json=user("carol@acme.com")),
    ]
    assert [answer.status_code for answer in answers] == [201, 201, 200, 200, 200, 200, 409]
    entries = logged(admin, scim.directory_id, len(answers))
    by_request = {entry["request_id"]: entry["id"] for entry in entries}
    for answer in answers:
        entry_id = by_request[answer.headers["X-Request-Id"]]
        detail = admin.get(f"/directories/{scim.directory_id}/logs/{entry_id}").json()
        assert detail["response_body"] == answer.json()


def test_the_request_id_is_the_one_the_answer_carries(
    scim: DirectoryClient, admin: httpx.Client
) -> None:
    chosen = f"trace-{secrets.token_hex(6)}"
    answer = scim.http.get("/Users", headers={"X-Request-Id": chosen})
    assert answer.status_code == 200
    [entry] = logged(admin, scim.directory_id, 1)
    assert answer.headers["X-Request-Id"] == chosen
    assert entry["request_id"] == chosen
    assert admin.get(f"/logs/{entry['request_id']}").json()["id"] == entry["id"]


def test_no_token_and_no_password_is_stored(
    scim: DirectoryClient, live_server: LiveServer, failures: list[Any]
) -> None:
    stored = raw_rows(live_server.engine, scim.directory_id)
    assert "alice@acme.com" in stored and "bob@acme.com" in stored
    assert SECRET_PASSWORD not in stored
    assert scim.token not in stored
    assert "authorization" not in stored.lower()


def test_a_directory_never_sees_another_directorys_requests(
    live_server: LiveServer, admin: httpx.Client
) -> None:
    a = new_directory(live_server, "a")
    b = new_directory(live_server, "b")
    with a.http, b.http:
        assert a.http.post("/Users", json=user("a@a.example")).status_code == 201
        assert b.http.post("/Users", json=user("b@b.example")).status_code == 201
        with_a_token = b.http.post(
            "/Users",
            json=user("intruder@b.example"),
            headers={"Authorization": f"Bearer {a.token}"},
        )
        assert with_a_token.status_code == 404
        no_token = b.http.get("/Users", headers={"Authorization": "Bearer nope"})
        assert no_token.status_code == 401
        # A later request of B's is written after the refused ones were handled.
        assert b.http.get("/Users").status_code == 200
        assert len(logged(admin, b.directory_id, 2)) == 2
        a_log = logged(admin, a.directory_id, 1)
        b_log = logged(admin, b.directory_id, 2)
    assert [e["user_name"] for e in a_log] == ["a@a.example"]
    assert [(e["method"], e["user_name"]) for e in b_log] == [
        ("GET", None),
        ("POST", "b@b.example"),
    ]
    assert "intruder" not in raw_rows(live_server.engine, a.directory_id)
    assert "intruder" not in raw_rows(live_server.engine, b.directory_id)


def test_a_missing_user_that_was_deleted_says_when(
    scim: DirectoryClient, admin: httpx.Client
) -> None:
    created = scim.http.post("/Users", json=user("dave@acme.com")).json()
    assert scim.http.delete(f"/Users/{created['id']}").status_code == 204
    assert scim.http.get(f"/Users/{created['id']}").status_code == 404
    [missing] = logged(admin, scim.directory_id, 1, status="404")
    assert missing["resource_id"] == created["id"]
    assert (
        f"refers to user {created['id']} which this directory does not have: it was deleted on"
        in missing["diagnosis"]
    )
    assert "just now" in missing["diagnosis"]


def test_search_by_status_user_and_time_newest_first(
    scim: DirectoryClient, admin: httpx.Client, failures: list[Any]
) -> None:
    assert {e["status"] for e in logged(admin, scim.directory_id, 3, status="4xx")} == {
        400,
        404,
        409,
    }
    assert [e["status"] for e in logged(admin, scim.directory_id, 1, status="409")] == [409]
    alice_id = one(failures, "POST", 201)["resource_id"]
    by_name = logged(admin, scim.directory_id, 2, user="ALICE@acme.com")
    assert [e["status"] for e in by_name] == [409, 201]
    by_id = logged(admin, scim.directory_id, 2, user=alice_id)
    assert {e["method"] for e in by_id} == {"POST", "PATCH"}

    everything = logged(admin, scim.directory_id, 5)
    times = [(datetime.fromisoformat(e["received_at"]), e["id"]) for e in everything]
    assert times == sorted(times, reverse=True)
    newest = datetime.fromisoformat(everything[0]["received_at"])
    assert (
        logged(admin, scim.directory_id, 0, since=(newest + timedelta(seconds=1)).isoformat()) == []
    )
    assert len(logged(admin, scim.directory_id, 0, until=newest.isoformat())) == 4

    pages: list[Any] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"before": cursor} if cursor else {})}
        answer = admin.get(f"/directories/{scim.directory_id}/logs", params=params).json()
        pages.extend(answer["data"])
        cursor = answer["next_cursor"]
        if cursor is None:
            break
    assert [e["id"] for e in pages] == [e["id"] for e in everything]


def test_bad_searches_are_scim_errors(scim: DirectoryClient, admin: httpx.Client) -> None:
    assert admin.get(f"/directories/{secrets.token_hex(8)}/logs").status_code == 404
    bad_status = admin.get(f"/directories/{scim.directory_id}/logs", params={"status": "4x"})
    assert bad_status.status_code == 400
    assert bad_status.json()["scimType"] == "invalidValue"
    unknown = admin.get(f"/directories/{scim.directory_id}/logs/{secrets.token_hex(8)}")
    assert unknown.status_code == 404


def test_cli_shows_a_failure_with_its_diagnosis(
    scim: DirectoryClient, live_server: LiveServer, failures: list[Any], database_url: str
) -> None:
    runner = CliRunner()
    listed = runner.invoke(
        cli, ["logs", "list", scim.directory_id, "--status", "409", "--database-url", database_url]
    )
    assert listed.exit_code == 0, listed.output
    assert "409" in listed.output and "already belongs to user" in listed.output
    conflict = one(failures, "POST", 409)
    shown = runner.invoke(
        cli, ["logs", "show", conflict["request_id"], "--json", "--database-url", database_url]
    )
    assert shown.exit_code == 0, shown.output
    entry = json.loads(shown.output)
    assert entry["id"] == conflict["id"]
    assert entry["diagnosis"].startswith("409: userName Alice@acme.com already belongs")
    table = runner.invoke(cli, ["logs", "show", conflict["id"], "--database-url", database_url])
    assert table.exit_code == 0, table.output
    assert "already belongs to user" in table.output and '"scimType": "uniqueness"' in table.output
    unknown = runner.invoke(cli, ["logs", "show", "no-such-entry", "--database-url", database_url])
    assert unknown.exit_code != 0


@pytest.fixture
def redacting_server(
    live_server: LiveServer, database_url: str, tmp_path: Path
) -> Iterator[LiveServer]:
    """A second server on the same database, redacting personal data from its log."""
    with serving(
        database_url, tmp_path / "redacting.log", SCIMGATE_LOG_REDACT="emails, name ,phoneNumbers"
    ) as url:
        yield LiveServer(url, live_server.engine)


def test_configured_attributes_are_redacted(redacting_server: LiveServer) -> None:
    directory = new_directory(redacting_server)
    body = user(
        "carol@acme.com",
        name={"givenName": "Carol", "familyName": "Secretname"},
        emails=[{"value": "carol.private@home.example", "primary": True}],
        phoneNumbers=[{"value": "+15550100"}],
    )
    with directory.http as http:
        created = http.post("/Users", json=body)
        assert created.status_code == 201
        changed = patch(
            {"op": "replace", "path": 'emails[type eq "work"].value', "value": "new@home.example"},
            {"op": "replace", "path": "displayName", "value": "Carol C"},
        )
        assert http.patch(f"/Users/{created.json()['id']}", json=changed).status_code == 200
    with httpx.Client(
        base_url=f"{redacting_server.url}/api/v1",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    ) as admin:
        entries = logged(admin, directory.directory_id, 2)
        assert len(entries) == 2
        stored = raw_rows(redacting_server.engine, directory.directory_id)
        creation = admin.get(
            f"/directories/{directory.directory_id}/logs/{one(entries, 'POST', 201)['id']}"
        ).json()
    for secret in ("Secretname", "carol.private", "+15550100", "new@home.example"):
        assert secret not in stored
    assert creation["request_body"]["emails"] == "[redacted]"
    assert creation["request_body"]["name"] == "[redacted]"
    assert creation["request_body"]["userName"] == "carol@acme.com"
    assert "Carol C" in stored


def test_scrub_reaches_every_depth() -> None:
    enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    body = {
        "Operations": [
            {"op": "add", "path": "password", "value": "p1"},
            {"op": "replace", "value": {"password": "p2", "emails": [{"value": "e"}]}},
            {"op": "replace", "path": f"{enterprise}:manager", "value": {"value": "m"}},
            {"method": "POST", "data": {"userName": "u", "PassWord": "p3"}},
        ],
        enterprise: {"manager": {"value": "m2"}, "department": "d"},
    }
    scrubbed = scrub(body, frozenset({"emails", "manager"}))
    assert "p1" not in json.dumps(scrubbed) and "p2" not in json.dumps(scrubbed)
    assert "p3" not in json.dumps(scrubbed)
    assert scrubbed["Operations"][0] == {"op": "add", "path": "password"}
    assert scrubbed["Operations"][1]["value"] == {"emails": "[redacted]"}
    assert scrubbed["Operations"][2]["value"] == "[redacted]"
    assert scrubbed["Operations"][3]["data"] == {"userName": "u"}
    assert scrubbed[enterprise] == {"manager": "[redacted]", "department": "d"}


PASSWORD_SPELLINGS = [
    {"op": "replace", "Path": "password", "Value": "p1"},
    {"OP": "Replace", "PATH": "PASSWORD", "VALUE": "p1"},
    {"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:Password", "value": "p1"},
    {"op": "replace", "value": {"Password": "p1"}},
    {"op": "replace", "value": {"urn:ietf:params:scim:schemas:core:2.0:User:PASSWORD": "p1"}},
    {"op": "replace", "value": {"urn:ietf:params:scim:schemas:core:2.0:User": {"password": "p1"}}},
    {"op": "replace", "path": "", "Value": {"passWord": "p1"}},
]


@pytest.mark.parametrize("operation", PASSWORD_SPELLINGS)
def test_scrub_removes_a_password_in_every_spelling(operation: dict[str, Any]) -> None:
    """Attribute names are case-insensitive (RFC 7643 §2.1), and so are the keys of an
    operation as scimgate reads them: the log must not keep what the service accepted."""
    assert "p1" not in json.dumps(scrub({"Operations": [operation]}, frozenset()))


def test_scrub_redacts_an_operation_whatever_the_case_of_its_keys() -> None:
    operation = {"OP": "add", "Path": "TITLE", "Value": "t1"}
    scrubbed = scrub({"Operations": [operation]}, frozenset({"title"}))
    assert scrubbed["Operations"] == [{"OP": "add", "Path": "TITLE", "Value": "[redacted]"}]


def _captured(
    server: LiveServer, directory: DirectoryClient, at: datetime, body: dict[str, Any]
) -> CapturedRequest:
    with reading(server.engine) as conn:
        authenticated = tenants.existing_directory(conn, directory.directory_id)
    return CapturedRequest(
        directory=authenticated,
        request_id=secrets.token_hex(8),
        received_at=at,
        method="POST",
        path=f"/scim/v2/{directory.directory_id}/Users",
        query="",
        status=400,
        latency_ms=3,
        user_agent="Okta SCIM Client 1.0.0",
        request_body=json.dumps(body).encode(),
        response_body=json.dumps({"scimType": "invalidValue", "detail": "bad"}).encode(),
    )


def test_bodies_can_be_left_out_and_big_ones_are_cut(
    scim: DirectoryClient, live_server: LiveServer
) -> None:
    now = datetime.now(UTC)
    [without] = record(
        live_server.engine,
        [_captured(live_server, scim, now, user("x@y.example"))],
        LogPolicy(bodies=False),
    )
    assert without.request_body is None and without.response_body is None
    assert without.client == "okta"
    assert without.diagnosis is not None and without.diagnosis.startswith("400 (invalidValue)")
    huge = user("big@y.example", members=[{"value": secrets.token_hex(16)} for _ in range(4000)])
    [cut] = record(live_server.engine, [_captured(live_server, scim, now, huge)], LogPolicy())
    assert cut.request_body["truncated"] is True
    assert len(cut.request_body["head"]) == 64 * 1024


def test_retention_purges_old_entries_only(scim: DirectoryClient, live_server: LiveServer) -> None:
    now = datetime.now(UTC)
    old, recent = record(
        live_server.engine,
        [
            _captured(live_server, scim, now - timedelta(days=15), {}),
            _captured(live_server, scim, now - timedelta(days=13), {}),
        ],
        LogPolicy(),
    )
    assert purge_expired(live_server.engine, now, LogPolicy(retention_days=14)) >= 1
    stored = raw_rows(live_server.engine, scim.directory_id)
    assert old.id not in stored
    assert recent.id in stored


def _entry(status: int, **fields: Any) -> LogEntry:
    values: dict[str, Any] = {
        "id": "l1",
        "request_id": "r-42",
        "method": "PUT",
        "path": "/scim/v2/d1/Users/u1",
        "status": status,
        "resource_id": "u1",
    }
    return log_entry("d1", **{**values, **fields})


@pytest.mark.parametrize(
    ("status", "fields", "expected"),
    [
        (200, {}, None),
        (500, {}, "internal error, request id r-42, nothing was changed"),
        (412, {}, "If-Match"),
        (413, {}, "smaller requests"),
        (400, {"scim_type": "mutability", "error_detail": "id is read-only"}, "id is read-only"),
        (400, {"scim_type": "invalidFilter", "error_detail": "bad op"}, "filter"),
    ],
)
def test_diagnosis_of_other_failures(
    status: int, fields: dict[str, Any], expected: str | None
) -> None:
    found = diagnose(_entry(status, **fields), Facts(), datetime.now(UTC))
    if expected is None:
        assert found is None
    else:
        assert found is not None and expected in found


def test_a_long_deleted_user_says_how_long_ago() -> None:
    now = datetime.now(UTC)
    found = diagnose(_entry(404), Facts(deleted_at=now - timedelta(days=3)), now)
    assert found is not None
    assert "user u1 which this directory does not have: it was deleted on" in found
    assert "3 days ago" in found
