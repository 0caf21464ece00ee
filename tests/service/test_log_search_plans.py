"""A search of the provisioning log by user reads that user's entries by index, not the log.

The log of one directory is filled with entries of lookups (which name no user and no
resource) and a few of one user; the search's statement is then explained by the
database itself (PostgreSQL with sequential scans off, so that a plan still walking the
table means no index can serve it). Nothing here is timed.
"""

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text

from factories import log_entry
from plan_support import explained, statements_naming
from scimgate.service.administration import tenants
from scimgate.store import provisioning_logs
from scimgate.store.ids import new_id
from scimgate.store.provisioning_logs import LogEntry, LogSearch
from scimgate.store.transactions import reading, writing

LOOKUPS = 3_000
START = datetime(2031, 1, 1, tzinfo=UTC)


def _entry(directory_id: str, n: int, user_name: str | None, resource_id: str | None) -> LogEntry:
    return log_entry(
        directory_id,
        received_at=START + timedelta(seconds=n),
        method="GET" if user_name is None else "PATCH",
        user_name=user_name,
        resource_id=resource_id,
    )


def test_a_search_by_user_reads_the_user_s_entries_by_index(engine: Engine) -> None:
    organization = tenants.create_organization(engine, f"o-{secrets.token_hex(4)}")
    directory_id = tenants.create_directory(engine, organization.id, "d").directory.id
    person, other = new_id(), new_id()
    entries = [_entry(directory_id, n, None, None) for n in range(LOOKUPS)]
    # The person: by name (in another case), by resource id without a name, by both.
    mine = [
        _entry(directory_id, 10, "Ann@Example.com", None),
        _entry(directory_id, 2_000, None, person),
        _entry(directory_id, 2_500, "ann@example.com", person),
    ]
    entries += [*mine, _entry(directory_id, 2_600, "bob@example.com", other)]
    with writing(engine) as conn:
        provisioning_logs.insert(conn, entries)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))

    with statements_naming(engine, "provisioning_logs") as seen, reading(engine) as conn:
        found = provisioning_logs.search(
            conn, LogSearch(directory_id=directory_id, limit=50, user="ANN@example.com")
        )
        by_id = provisioning_logs.search(
            conn, LogSearch(directory_id=directory_id, limit=2, user=person)
        )
        paged = provisioning_logs.search(
            conn,
            LogSearch(
                directory_id=directory_id,
                limit=50,
                user=person,
                before=(mine[2].received_at, mine[2].id),
            ),
        )

    assert [entry.id for entry in found] == [mine[2].id, mine[0].id]
    assert [entry.id for entry in by_id] == [mine[2].id, mine[1].id]
    assert [entry.id for entry in paged] == [mine[1].id]
    statement, parameters = seen[0]
    plan = explained(engine, statement, parameters)
    for index in ("user_name_key", "resource_id"):
        assert f"ix_provisioning_logs_directory_id_{index}" in plan, plan
    assert "ix_provisioning_logs_directory_id_received_at" not in plan, plan
    assert "Seq Scan on provisioning_logs" not in plan, plan


def test_a_search_by_user_name_folds_case_beyond_ascii(engine: Engine) -> None:
    """A userName is found in any case and either Unicode form, as SCIM compares it: SQLite's
    own lower() folds ASCII letters only, and the log's key does not depend on it."""
    organization = tenants.create_organization(engine, f"o-{secrets.token_hex(4)}")
    directory_id = tenants.create_directory(engine, organization.id, "d").directory.id
    logged = [
        _entry(directory_id, 1, "Élise.Ørsted@Example.com", None),
        # The same name in decomposed form: E and a combining acute accent.
        _entry(directory_id, 2, "E\u0301lise.ørsted@example.com", None),
        _entry(directory_id, 3, "elise.orsted@example.com", None),
    ]
    with writing(engine) as conn:
        provisioning_logs.insert(conn, logged)
    for spelled in ("élise.ørsted@example.com", "ÉLISE.ØRSTED@EXAMPLE.COM"):
        with reading(engine) as conn:
            found = provisioning_logs.search(
                conn, LogSearch(directory_id=directory_id, limit=10, user=spelled)
            )
        assert [entry.id for entry in found] == [logged[1].id, logged[0].id], spelled
