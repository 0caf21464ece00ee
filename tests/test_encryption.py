"""Encryption at rest: nothing personal in the database, lookups still work, keys rotate live.

Every test runs a real server process on each backend with ``SCIMGATE_ENCRYPTION_KEYS``
set, on a database of its own, and reads the raw database behind its back.
"""

import base64
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import Result
from sqlalchemy import select, text
from typer.testing import CliRunner

from conftest import ADMIN_TOKEN, BACKENDS, postgres_database, serving
from scimgate.cli.main import app as cli
from scimgate.service.administration import tenants
from scimgate.store import google_connections
from scimgate.store.encryption import EncryptionError, Keyring, new_key_line
from scimgate.store.engine import open_engine
from scimgate.store.google_connections import GoogleConnection
from scimgate.store.migrate import upgrade
from scimgate.store.tables import metadata
from scimgate.store.transactions import reading, writing

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"

KEY_A = new_key_line("A")
KEY_B = new_key_line("B")

PEOPLE: list[dict[str, Any]] = [
    {
        "userName": f"Zephyrine.Quillfeather{n}@Vexmoor-Sample.test",
        "externalId": f"Xanthippe-ext-{n}-Qorvath",
        "displayName": f"Zephyrine Quillfeather{n}",
        "name": {"givenName": "Zephyrine", "familyName": f"Quillfeather{n}"},
        "emails": [{"value": f"zq{n}.private@Mailbox-Orrindel.test", "type": "work"}],
        "title": "Chief Wyvernologist",
    }
    for n in range(3)
]
GROUP_NAME = "Ultraviolet Cartographers Guild"
GROUP_EXTERNAL_ID = "grp-Ophiuchine-77"

PERSONAL_VALUES = [
    value
    for person in PEOPLE
    for value in (
        person["userName"],
        person["externalId"],
        person["displayName"],
        person["name"]["familyName"],
        person["emails"][0]["value"],
    )
] + ["Zephyrine", "Wyvernologist", GROUP_NAME, GROUP_EXTERNAL_ID]
"""Distinctive values: none of them, in any case, may be found in the raw database."""


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database of this test's own (it is read raw and served under several keys)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'scimgate.db'}"
        _migrate(url)
        yield url
        return
    request.getfixturevalue("postgres_url")  # skips when PostgreSQL is unreachable
    with postgres_database("scimgate_encryption") as url:
        _migrate(url)
        yield url


def _migrate(url: str) -> None:
    engine = open_engine(url)
    upgrade(engine)
    engine.dispose()


def _directory(database_url: str) -> tuple[str, str]:
    """A new directory and its token (tenancy is stored plain: no keys needed)."""
    engine = open_engine(database_url)
    try:
        organization = tenants.create_organization(engine, f"org {secrets.token_hex(3)}")
        created = tenants.create_directory(engine, organization.id, "encrypted")
        return created.directory.id, created.token.secret
    finally:
        engine.dispose()


def _client(url: str, directory_id: str, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{url}/scim/v2/{directory_id}",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
        timeout=60,
    )


def _provision(scim: httpx.Client) -> tuple[list[str], str]:
    user_ids = []
    for person in PEOPLE:
        created = scim.post("/Users", json={"schemas": [USER_SCHEMA], "active": True, **person})
        assert created.status_code == 201, created.text
        user_ids.append(created.json()["id"])
    group = scim.post(
        "/Groups",
        json={
            "schemas": [GROUP_SCHEMA],
            "displayName": GROUP_NAME,
            "externalId": GROUP_EXTERNAL_ID,
            "members": [
                {"value": user_ids[0], "display": PEOPLE[0]["displayName"]},
                {"value": user_ids[1]},
            ],
        },
    )
    assert group.status_code == 201, group.text
    return user_ids, group.json()["id"]


def _find(scim: httpx.Client, resource: str, scim_filter: str) -> list[dict[str, Any]]:
    found = scim.get(f"/{resource}", params={"filter": scim_filter})
    assert found.status_code == 200, found.text
    resources: list[dict[str, Any]] = found.json().get("Resources", [])
    return resources


def _assert_reads_everything(scim: httpx.Client, user_ids: list[str], group_id: str) -> None:
    for person, user_id in zip(PEOPLE, user_ids, strict=True):
        got = scim.get(f"/Users/{user_id}")
        assert got.status_code == 200, got.text
        user = got.json()
        assert user["userName"] == person["userName"]
        assert user["externalId"] == person["externalId"]
        assert user["emails"][0]["value"].lower() == person["emails"][0]["value"].lower()
        by_name = _find(scim, "Users", f'userName eq "{str(person["userName"]).upper()}"')
        assert [each["id"] for each in by_name] == [user_id]
    group = scim.get(f"/Groups/{group_id}").json()
    assert group["displayName"] == GROUP_NAME
    displays = {member["value"]: member.get("display") for member in group["members"]}
    assert displays == {
        user_ids[0]: PEOPLE[0]["displayName"],
        user_ids[1]: PEOPLE[1]["displayName"],
    }
    first = scim.get(f"/Users/{user_ids[0]}").json()
    assert [(g["value"], g["display"]) for g in first["groups"]] == [(group_id, GROUP_NAME)]


def _raw_rows(database_url: str) -> dict[str, str]:
    """Every value of every column of every table, as one lower-case text per table."""
    engine = open_engine(database_url)
    found: dict[str, str] = {}
    try:
        with engine.connect() as conn:
            for table in metadata.sorted_tables:
                if conn.dialect.name == "postgresql":
                    rows = conn.execute(text(f'SELECT t::text FROM "{table.name}" t'))
                    found[table.name] = "\n".join(str(row[0]) for row in rows).lower()
                else:
                    rows = conn.execute(select(table))
                    found[table.name] = "\n".join(repr(tuple(row)) for row in rows).lower()
    finally:
        engine.dispose()
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as raw:
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return found


def _assert_no_plaintext_anywhere(database_url: str) -> None:
    tables = _raw_rows(database_url)
    leaked = [
        (table, value)
        for table, content in tables.items()
        for value in PERSONAL_VALUES
        if value.lower() in content
    ]
    assert leaked == []
    if database_url.startswith("sqlite"):
        # After the checkpoint, everything is in the main file: read its bytes.
        path = Path(database_url.removeprefix("sqlite:///"))
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*")).lower()
        assert [v for v in PERSONAL_VALUES if v.lower().encode() in raw] == []


def _rotate(database_url: str, keys: str, *extra: str) -> Result:
    """``scimgate encryption ...``, run in this process as the command runs it."""
    return CliRunner().invoke(
        cli,
        ["encryption", *extra],
        env={"SCIMGATE_DATABASE_URL": database_url, "SCIMGATE_ENCRYPTION_KEYS": keys},
    )


def test_nothing_personal_is_stored_in_plaintext_and_equality_lookups_work(
    database_url: str, tmp_path: Path
) -> None:
    directory_id, token = _directory(database_url)
    with (
        serving(database_url, tmp_path / "server.log", SCIMGATE_ENCRYPTION_KEYS=KEY_A) as url,
        _client(url, directory_id, token) as scim,
    ):
        user_ids, group_id = _provision(scim)
        _assert_reads_everything(scim, user_ids, group_id)
        email = str(PEOPLE[2]["emails"][0]["value"]).upper()
        lookups = {
            f'externalId eq "{PEOPLE[1]["externalId"]}"': [user_ids[1]],
            f'externalId eq "{str(PEOPLE[1]["externalId"]).upper()}"': [],  # case-exact
            f'emails.value eq "{email}"': [user_ids[2]],
            f'emails[value eq "{email}"]': [user_ids[2]],
            f'emails eq "{email}"': [user_ids[2]],
            f'userName ne "{PEOPLE[0]["userName"]}"': user_ids[1:],
            f'userName eq "{PEOPLE[0]["userName"]}" or externalId eq "{PEOPLE[2]["externalId"]}"': [
                user_ids[0],
                user_ids[2],
            ],
            f'active eq true and not (userName eq "{PEOPLE[1]["userName"]}")': [
                user_ids[0],
                user_ids[2],
            ],
            f'id eq "{user_ids[1]}"': [user_ids[1]],
            f'groups[value eq "{group_id}"]': user_ids[:2],
            "externalId pr": user_ids,
            'meta.created gt "2000-01-01T00:00:00Z"': user_ids,
        }
        for scim_filter, expected in lookups.items():
            assert [each["id"] for each in _find(scim, "Users", scim_filter)] == expected, (
                scim_filter
            )
        for scim_filter in (f'displayName eq "{GROUP_NAME.lower()}"', "externalId pr"):
            assert [each["id"] for each in _find(scim, "Groups", scim_filter)] == [group_id]

        refused = {
            'userName co "zephyrine"': "userName",
            'userName sw "Z"': "userName",
            'userName gt "a"': "userName",
            'emails.value ew ".test"': "emails.value",
            'title eq "Chief Wyvernologist"': "title",
            'name.familyName eq "Quillfeather0"': "name.familyName",
            'emails[type eq "work" and value eq "x@y.test"]': "emails",
        }
        for scim_filter, attribute in refused.items():
            answer = scim.get("/Users", params={"filter": scim_filter})
            assert answer.status_code == 400, scim_filter
            error = answer.json()
            assert error["scimType"] == "invalidFilter"
            assert attribute in error["detail"]
            assert "encrypted" in error["detail"]
        group_refused = scim.get("/Groups", params={"filter": 'displayName co "cartographers"'})
        assert group_refused.status_code == 400
        assert "displayName" in group_refused.json()["detail"]
        sorted_answer = scim.get("/Users", params={"sortBy": "userName"})
        assert sorted_answer.status_code == 400
        assert "encryption at rest" in sorted_answer.json()["detail"]
        by_creation = scim.get("/Users", params={"sortBy": "meta.created"})
        assert [each["id"] for each in by_creation.json()["Resources"]] == user_ids

        taken = scim.post(
            "/Users",
            json={"schemas": [USER_SCHEMA], "userName": str(PEOPLE[0]["userName"]).lower()},
        )
        assert taken.status_code == 409
        renamed = scim.patch(
            f"/Users/{user_ids[2]}",
            json={
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [
                    {
                        "op": "replace",
                        "path": "emails",
                        "value": [{"value": "zq-renamed@Mailbox-Orrindel.test"}],
                    }
                ],
            },
        )
        assert renamed.status_code == 200, renamed.text
        assert _find(scim, "Users", f'emails.value eq "{email}"') == []
        assert [
            u["id"] for u in _find(scim, "Users", 'emails eq "ZQ-RENAMED@mailbox-orrindel.test"')
        ] == [user_ids[2]]

        _assert_the_app_reads_events_and_logs_decrypted(url, directory_id)

    _assert_no_plaintext_anywhere(database_url)


def _assert_the_app_reads_events_and_logs_decrypted(url: str, directory_id: str) -> None:
    user_name = str(PEOPLE[0]["userName"])
    with httpx.Client(
        base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=60
    ) as admin:
        feed = admin.get("/events", params={"directory_id": directory_id, "limit": 1000})
        assert feed.status_code == 200, feed.text
        assert user_name.lower() in feed.text.lower()
        assert GROUP_NAME in feed.text
        entries = _logged(admin, directory_id, user_name.upper())
        assert {e["user_name"].lower() for e in entries} == {user_name.lower()}
        conflict = next(e for e in entries if e["status"] == 409)
        assert user_name.lower() in str(conflict["diagnosis"]).lower()
        entry = admin.get(f"/directories/{directory_id}/logs/{conflict['id']}")
        assert entry.status_code == 200, entry.text
        assert user_name.lower() in entry.text.lower()


def _logged(admin: httpx.Client, directory_id: str, user: str) -> list[dict[str, Any]]:
    """The log entries of a userName, once the 409 is among them (the log is written apart)."""
    deadline = time.monotonic() + 60
    while True:
        logs = admin.get(f"/directories/{directory_id}/logs", params={"user": user})
        assert logs.status_code == 200, logs.text
        entries: list[dict[str, Any]] = logs.json()["data"]
        if any(e["status"] == 409 for e in entries) or time.monotonic() > deadline:
            return entries
        time.sleep(0.2)


def test_keys_rotate_while_the_service_keeps_answering(database_url: str, tmp_path: Path) -> None:
    directory_id, token = _directory(database_url)
    log = tmp_path / "server.log"
    with (
        serving(database_url, log, SCIMGATE_ENCRYPTION_KEYS=KEY_A) as url,
        _client(url, directory_id, token) as scim,
    ):
        user_ids, group_id = _provision(scim)

    status = _rotate(database_url, f"{KEY_B},{KEY_A}", "status", "--json")
    assert status.exit_code == 0, status.stderr
    assert json.loads(status.stdout)["users"] == {"A": 3}

    with (
        serving(database_url, log, SCIMGATE_ENCRYPTION_KEYS=f"{KEY_B},{KEY_A}") as url,
        _client(url, directory_id, token) as scim,
    ):
        _assert_reads_everything(scim, user_ids, group_id)
        # A userName held under the old key's hash is still taken, in any case.
        taken = scim.post(
            "/Users",
            json={"schemas": [USER_SCHEMA], "userName": str(PEOPLE[1]["userName"]).upper()},
        )
        assert taken.status_code == 409, taken.text
        answers: list[int] = []
        stop = threading.Event()

        def keep_working() -> None:
            with _client(url, directory_id, token) as busy:
                n = 0
                while not stop.is_set() or n < 3:
                    name = str(PEOPLE[n % 3]["userName"])
                    found = busy.get("/Users", params={"filter": f'userName eq "{name}"'})
                    answers.append(found.status_code)
                    if found.status_code == 200:
                        answers.append(200 if found.json()["totalResults"] == 1 else 0)
                    created = busy.post(
                        "/Users",
                        json={"schemas": [USER_SCHEMA], "userName": f"busy{n}@during.test"},
                    )
                    answers.append(created.status_code)
                    n += 1

        worker = threading.Thread(target=keep_working)
        worker.start()
        try:
            rotated = _rotate(database_url, f"{KEY_B},{KEY_A}", "rotate", "--batch-size", "1")
        finally:
            stop.set()
            worker.join(timeout=120)
        assert rotated.exit_code == 0, rotated.stdout + rotated.stderr
        assert answers and all(200 <= status < 300 for status in answers), answers

    status = _rotate(database_url, KEY_B, "status", "--json")
    assert status.exit_code == 0, status.stderr
    assert '"A"' not in status.stdout and "(plain)" not in status.stdout

    with (
        serving(database_url, log, SCIMGATE_ENCRYPTION_KEYS=KEY_B) as url,
        _client(url, directory_id, token) as scim,
    ):
        _assert_reads_everything(scim, user_ids, group_id)
        assert len(_find(scim, "Users", 'userName eq "busy0@during.test"')) == 1

    # Served under a key that never wrote anything, the data is refused, never garbage.
    with (
        serving(database_url, log, SCIMGATE_ENCRYPTION_KEYS=new_key_line("C")) as url,
        _client(url, directory_id, token) as scim,
    ):
        answer = scim.get(f"/Users/{user_ids[0]}")
        assert answer.status_code == 500
        assert PEOPLE[0]["userName"] not in answer.text
    logged = " ".join(log.read_text().split())  # the traceback's lines are wrapped
    assert "encrypted under key id 'B', which SCIMGATE_ENCRYPTION_KEYS does not hold" in logged


def test_turning_encryption_on_over_plain_data_then_rotating_encrypts_it(
    database_url: str, tmp_path: Path
) -> None:
    directory_id, token = _directory(database_url)
    log = tmp_path / "server.log"
    with serving(database_url, log) as url, _client(url, directory_id, token) as scim:
        user_ids, group_id = _provision(scim)
    assert PEOPLE[0]["userName"].lower() in _raw_rows(database_url)["users"]

    with (
        serving(database_url, log, SCIMGATE_ENCRYPTION_KEYS=KEY_A) as url,
        _client(url, directory_id, token) as scim,
    ):
        # Before the rotation, plain rows are still read and found.
        _assert_reads_everything(scim, user_ids, group_id)
        rotated = _rotate(database_url, KEY_A, "rotate")
        assert rotated.exit_code == 0, rotated.stdout + rotated.stderr
        assert "users: 3 re-encrypted under key A" in rotated.stdout
        _assert_reads_everything(scim, user_ids, group_id)
        email = str(PEOPLE[1]["emails"][0]["value"])
        assert [u["id"] for u in _find(scim, "Users", f'emails.value eq "{email}"')] == [
            user_ids[1]
        ]
    status = _rotate(database_url, KEY_A, "status", "--json")
    assert "(plain)" not in status.stdout
    # Every kind rotation rewrites is counted, the offboarding records included.
    assert {"deprovisioning records", "tombstones", "Google Workspace credentials"} <= set(
        json.loads(status.stdout)
    )
    tables = _raw_rows(database_url)
    for table in ("users", "groups", "group_members", "user_email_hashes"):
        # What rotation covers: the users' and groups' rows and member names.
        assert [v for v in PERSONAL_VALUES if v.lower() in tables[table]] == [], table


def test_a_malformed_key_stops_the_server_at_start(database_url: str, tmp_path: Path) -> None:
    short = base64.b64encode(b"too short").decode()
    with (
        pytest.raises(RuntimeError, match="is 9 bytes, not 32"),
        serving(database_url, tmp_path / "server.log", SCIMGATE_ENCRYPTION_KEYS=f"A:{short}"),
    ):
        pass


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (["A:not base64!"], "not valid base64"),
        ([f"A:{base64.b64encode(bytes(16)).decode()}"], "16 bytes, not 32"),
        ([KEY_A, KEY_A.replace("A:", "A:", 1)], "appears twice"),
        ([base64.b64encode(bytes(32)).decode()], "not '<key id>:<base64 key>'"),
    ],
)
def test_malformed_keys_are_refused_with_the_reason(keys: list[str], message: str) -> None:
    with pytest.raises(EncryptionError, match=message):
        Keyring.parse(keys)


def test_a_value_moved_to_another_row_or_directory_does_not_decrypt() -> None:
    keyring = Keyring.parse([KEY_A])
    assert keyring is not None
    sealed = keyring.seal("alice@example.test", "users.user_name", "dir-1", "user-1")
    assert keyring.open(sealed, "users.user_name", "dir-1", "user-1") == "alice@example.test"
    for place, directory, row in (
        ("users.user_name", "dir-1", "user-2"),
        ("users.user_name", "dir-2", "user-1"),
        ("users.display_name", "dir-1", "user-1"),
    ):
        with pytest.raises(EncryptionError, match="does not decrypt"):
            keyring.open(sealed, place, directory, row)
    other = Keyring.parse([new_key_line("A")])
    assert other is not None
    with pytest.raises(EncryptionError, match="does not decrypt"):
        other.open(sealed, "users.user_name", "dir-1", "user-1")
    assert sealed != keyring.seal("alice@example.test", "users.user_name", "dir-1", "user-1")


def test_lookup_hashes_differ_by_key_directory_and_attribute() -> None:
    keyring = Keyring.parse([KEY_B, KEY_A])
    assert keyring is not None
    hashes = keyring.lookups("User:userName", "dir-1", "alice")
    assert len(hashes) == 3 and hashes[-1] == "alice" and hashes[0] != hashes[1]
    assert keyring.lookup("User:userName", "dir-1", "alice") == hashes[0]
    assert keyring.lookup("User:userName", "dir-2", "alice") != hashes[0]
    assert keyring.lookup("User:externalId", "dir-1", "alice") != hashes[0]


def test_google_credentials_are_counted_and_rotated_with_the_rest(database_url: str) -> None:
    """A pulled directory's own credentials (a service account key here) are sealed like
    personal data: ``status`` counts them under their key, and ``rotate`` re-seals them
    under the newest one, still readable."""
    directory_id, _ = _directory(database_url)
    key = {"type": "service_account", "client_email": "sync@acme.iam.example", "private_key": "k"}
    now = datetime.now(UTC)
    connection = GoogleConnection(
        directory_id=directory_id,
        customer_id="my_customer",
        admin_email="admin@acme.example",
        client_id="1234",
        client_email="sync@acme.iam.example",
        scope_kind="all",
        scope_values=[],
        interval_minutes=5.0,
        next_sync_at=now,
        created_at=now,
        updated_at=now,
    )
    plain = open_engine(database_url)
    try:
        with writing(plain) as conn:
            google_connections.save(conn, connection, key)
    finally:
        plain.dispose()

    counted = json.loads(_rotate(database_url, KEY_A, "status", "--json").stdout)
    assert counted["Google Workspace credentials"] == {"(plain)": 1}
    rotated = _rotate(database_url, KEY_A, "rotate")
    assert rotated.exit_code == 0, rotated.stdout + rotated.stderr
    assert "Google Workspace credentials: 1 re-encrypted under key A" in rotated.stdout
    counted = json.loads(_rotate(database_url, KEY_A, "status", "--json").stdout)
    assert counted["Google Workspace credentials"] == {"A": 1}

    sealed = open_engine(database_url, None, (KEY_A,))
    try:
        with reading(sealed) as conn:
            assert google_connections.credentials(conn, directory_id) == key
    finally:
        sealed.dispose()
