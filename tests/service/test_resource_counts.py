"""A directory's totals are kept with every insert and delete, and a migration counts what exists.

An unfiltered list reads its ``totalResults`` from these totals instead of
counting the directory's rows (which would cost as much as the directory is
large), so they must never drift from the rows themselves.
"""

from pathlib import Path

from alembic import command
from sqlalchemy import Engine, MetaData, func, select

from scimgate.service.administration import tenants
from scimgate.store.engine import open_engine
from scimgate.store.ids import new_id, utcnow
from scimgate.store.migrate import alembic_config, upgrade
from scimgate.store.resource_tables import GROUPS, USERS, ResourceTable
from scimgate.store.stored_resources import StoredResource
from scimgate.store.tables.resources import groups, users
from scimgate.store.transactions import reading, writing


def _counted(engine: Engine, table: ResourceTable, directory_id: str) -> tuple[int, int]:
    """The kept total and the number of rows."""
    with reading(engine) as conn:
        kept = table.count(conn, directory_id, None)
        rows = conn.execute(
            select(func.count())
            .select_from(table.table)
            .where(table.table.c.directory_id == directory_id)
        ).scalar_one()
    return kept, int(rows)


def _user(n: int) -> StoredResource:
    return StoredResource.new(new_id(), {"userName": f"u{n}@counts.example"}, utcnow())


def test_totals_follow_inserts_and_deletes(engine: Engine) -> None:
    organization = tenants.create_organization(engine, "counts")
    first, second = (
        tenants.create_directory(engine, organization.id, name).directory for name in ("a", "b")
    )
    assert _counted(engine, USERS, first.id) == (0, 0)
    made = [_user(n) for n in range(7)]
    with writing(engine) as conn:
        for each in made:
            USERS.insert(conn, first.id, each)
        USERS.insert(conn, second.id, _user(99))
        GROUPS.insert(conn, first.id, StoredResource.new(new_id(), {"displayName": "g"}, utcnow()))
    with writing(engine) as conn:
        assert USERS.delete(conn, first.id, made[0].id)
        assert not USERS.delete(conn, first.id, made[0].id)  # gone already: counted once
        assert not USERS.delete(conn, second.id, made[1].id)  # another directory's: untouched
    assert _counted(engine, USERS, first.id) == (6, 6)
    assert _counted(engine, USERS, second.id) == (1, 1)
    assert _counted(engine, GROUPS, first.id) == (1, 1)
    assert _counted(engine, GROUPS, second.id) == (0, 0)


def test_a_failed_transaction_leaves_the_total_alone(engine: Engine) -> None:
    organization = tenants.create_organization(engine, "counts rollback")
    directory = tenants.create_directory(engine, organization.id, "a").directory
    try:
        with writing(engine) as conn:
            USERS.insert(conn, directory.id, _user(1))
            raise RuntimeError("the request failed after the insert")
    except RuntimeError:
        pass
    assert _counted(engine, USERS, directory.id) == (0, 0)


def test_the_migration_counts_existing_rows(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'before.db'}")
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0009")
    directory_id = _directory_as_of_then(engine)
    with engine.begin() as conn:
        for n in range(3):
            stored = _user(n)
            conn.execute(
                users.insert().values(
                    directory_id=directory_id,
                    **vars(stored),
                    user_name=stored.doc["userName"],
                    user_name_key=stored.doc["userName"],
                )
            )
        conn.execute(
            groups.insert().values(
                id=new_id(),
                directory_id=directory_id,
                display_name="g",
                display_name_key="g",
                doc={"displayName": "g"},
                created_at=utcnow(),
                modified_at=utcnow(),
                version=1,
            )
        )
    upgrade(engine)
    assert _counted(engine, USERS, directory_id) == (3, 3)
    assert _counted(engine, GROUPS, directory_id) == (1, 1)


def _directory_as_of_then(engine: Engine) -> str:
    """A directory written with the columns its table has at the migrated revision (today's
    code writes columns added later)."""
    schema = MetaData()
    schema.reflect(engine, only=["organizations", "directories"])
    organization_id, directory_id, now = new_id(), new_id(), utcnow()
    with engine.begin() as conn:
        conn.execute(
            schema.tables["organizations"]
            .insert()
            .values(id=organization_id, name="before totals", created_at=now)
        )
        conn.execute(
            schema.tables["directories"]
            .insert()
            .values(id=directory_id, organization_id=organization_id, name="a", created_at=now)
        )
    return directory_id
