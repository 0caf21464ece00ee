"""Provisioning-log entries written before their userName had a key are found by it after the
upgrade, in any case, beyond ASCII too; entries written with encryption at rest keep theirs."""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, select

from event_support import private_database
from factories import new_scope
from migration_support import migrate_back
from scimgate.store import provisioning_logs
from scimgate.store.ids import new_id
from scimgate.store.migrate import upgrade
from scimgate.store.provisioning_logs import LogSearch
from scimgate.store.tables.logs import provisioning_logs as logs_table
from scimgate.store.transactions import reading

BEFORE = "0023"
SEALED_KEY = "k" * 64
"""What an entry sealed by encryption at rest holds: its keyed hash, left as it is."""


@pytest.fixture
def engine_before(database_url: str, tmp_path: Path) -> Iterator[tuple[Engine, str]]:
    """An engine on a database of its own, on the same backend, with one directory, migrated
    back to just before the keys."""
    with private_database(database_url, tmp_path) as (_, engine):
        directory_id = new_scope(engine, "before log keys").directory_id
        migrate_back(engine, BEFORE)
        yield engine, directory_id


def _logged_old_style(engine: Engine, directory_id: str, user_name: str, key: str | None) -> str:
    """An entry as the previous version wrote it: a plain userName had no key."""
    entry_id = new_id()
    with engine.begin() as conn:
        conn.execute(
            logs_table.insert().values(
                id=entry_id,
                directory_id=directory_id,
                request_id=new_id(),
                received_at=datetime.now(UTC),
                method="POST",
                path=f"/scim/v2/{directory_id}/Users",
                status=201,
                latency_ms=1,
                user_name=user_name,
                user_name_key=key,
            )
        )
    return entry_id


def test_entries_from_before_are_found_by_user_name_in_any_case(
    engine_before: tuple[Engine, str],
) -> None:
    engine, directory_id = engine_before
    plain = _logged_old_style(engine, directory_id, "Élise@Example.com", None)
    sealed = _logged_old_style(engine, directory_id, "sealed-text", SEALED_KEY)
    upgrade(engine)

    with reading(engine) as conn:
        found = provisioning_logs.search(
            conn, LogSearch(directory_id=directory_id, limit=10, user="élise@EXAMPLE.com")
        )
        kept = conn.execute(
            select(logs_table.c.user_name_key).where(logs_table.c.id == sealed)
        ).scalar()
    assert [entry.id for entry in found] == [plain]
    assert kept == SEALED_KEY
    indexes = {index["name"] for index in inspect(engine).get_indexes("provisioning_logs")}
    assert "ix_provisioning_logs_directory_id_user_name_folded" not in indexes
