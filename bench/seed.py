"""Seeding scimgate databases fast, through the store's own tables and index columns.

A seeded directory holds ``users`` users named ``user0000000@bench.example.com``
onwards, in creation order, and one group per requested size whose members are
the first users. The users after the largest group belong to no group: the
group-membership workload adds and removes them.

SQLite databases are built once and kept under ``bench/.cache/`` (ignored by
git), named by the schema's migration revision and the sizes, so a second run
copies a file instead of rebuilding a million users. PostgreSQL databases are
rebuilt in a new database ``scimgate_bench_<hex>``, dropped afterwards.
"""

import fcntl
import json
import secrets
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg
from alembic.script import ScriptDirectory
from servers import BenchDirectory, new_directories
from sqlalchemy import Connection, Engine

from scimgate.scim.resources import GROUP_SCHEMA, UserResource
from scimgate.service.provisioning.representation import document
from scimgate.store import memberships
from scimgate.store.column_codec import PLAIN
from scimgate.store.engine import open_engine
from scimgate.store.ids import new_id, utcnow
from scimgate.store.migrate import alembic_config
from scimgate.store.resource_tables import GROUPS, USERS, ResourceTable
from scimgate.store.stored_resources import StoredResource
from scimgate.store.transactions import writing

CACHE = Path(__file__).with_name(".cache")
POSTGRES_DSN = "host=127.0.0.1 port=5432 user=postgres connect_timeout=3"
BATCH = 10_000


@dataclass(frozen=True)
class Seed:
    """What a seeded database holds, enough to drive it without reading it back."""

    directory: BenchDirectory
    users: int
    group_ids: dict[int, str]
    """The group holding the first N users, by N."""

    spare_user_ids: list[str]
    """Users in no group, in creation order."""

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Seed":
        data = json.loads(text)
        return cls(
            directory=BenchDirectory(**data["directory"]),
            users=data["users"],
            group_ids={int(size): group for size, group in data["group_ids"].items()},
            spare_user_ids=data["spare_user_ids"],
        )


@dataclass(frozen=True)
class SeedSpec:
    """The size of a directory to seed."""

    users: int
    group_sizes: tuple[int, ...] = ()
    spare_users: int = 0

    def __post_init__(self) -> None:
        if max(self.group_sizes, default=0) + self.spare_users > self.users:
            raise ValueError("the groups and the spare users need more users than requested")

    def cache_name(self) -> str:
        groups = "-".join(str(size) for size in self.group_sizes) or "none"
        return f"{schema_revision()}-u{self.users}-g{groups}-s{self.spare_users}"


def user_name(n: int) -> str:
    return f"user{n:07d}@bench.example.com"


def schema_revision() -> str:
    """The newest migration of this checkout: a cached database older than it is rebuilt."""
    config = alembic_config(open_engine("sqlite://"))
    return str(ScriptDirectory.from_config(config).get_current_head())


@contextmanager
def seeded_sqlite(spec: SeedSpec) -> Iterator[tuple[str, Seed]]:
    """A private copy of the cached SQLite database for ``spec`` (built first if missing)."""
    database, seed = _cached_sqlite(spec)
    with tempfile.TemporaryDirectory(prefix="scimgate-bench-") as folder:
        copy = Path(folder) / "bench.db"
        shutil.copyfile(database, copy)
        yield f"sqlite:///{copy}", seed


@contextmanager
def seeded_postgresql(spec: SeedSpec) -> Iterator[tuple[str, Seed]]:
    """A new PostgreSQL database seeded for ``spec``, dropped afterwards."""
    with postgresql_database() as url:
        yield url, build(url, spec)


def _cached_sqlite(spec: SeedSpec) -> tuple[Path, Seed]:
    database = CACHE / f"{spec.cache_name()}.db"
    described = database.with_suffix(".json")
    with _cache_lock():
        if database.exists() and described.exists():
            return database, Seed.from_json(described.read_text())
        (CACHE / ".gitignore").write_text("*\n")
        _forget_older_schemas()
        building = CACHE / f"building-{secrets.token_hex(4)}.db"
        try:
            seed = build(f"sqlite:///{building}", spec)
            _checkpoint(building)
            building.replace(database)
            described.write_text(seed.to_json())
        finally:
            for leftover in CACHE.glob(f"{building.name}*"):
                leftover.unlink()
    return database, seed


@contextmanager
def _cache_lock() -> Iterator[None]:
    """One run at a time reads or fills the cache: two runs at once (two test workers) would
    each clear away the other's database while building their own."""
    CACHE.mkdir(exist_ok=True)
    with (CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _forget_older_schemas() -> None:
    """Databases built for another schema revision would never be used again."""
    current = f"{schema_revision()}-"
    for cached in CACHE.glob("*.*"):
        if cached.suffix in (".db", ".json") and not cached.name.startswith(current):
            cached.unlink()


def _checkpoint(database: Path) -> None:
    """Fold the write-ahead log into the file, so that the file alone is the database."""
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def build(database_url: str, spec: SeedSpec) -> Seed:
    """Fill a new (or empty) database with one directory of ``spec``'s size."""
    started = time.monotonic()
    directory = new_directories(database_url, 1, "bench seed")[0]
    engine = open_engine(database_url)
    try:
        user_ids = _insert_users(engine, directory.directory_id, spec.users)
        group_ids = {
            size: _insert_group(engine, directory.directory_id, user_ids[:size])
            for size in spec.group_sizes
        }
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
    finally:
        engine.dispose()
    first_spare = max(spec.group_sizes, default=0)
    print(f"  seeded {spec.users:,} users in {time.monotonic() - started:.0f} s")
    return Seed(
        directory=directory,
        users=spec.users,
        group_ids=group_ids,
        spare_user_ids=user_ids[first_spare : first_spare + spec.spare_users],
    )


def _insert_users(engine: Engine, directory_id: str, count: int) -> list[str]:
    template = document(
        UserResource(
            user_name="template",
            external_id="template",
            name={"givenName": "Given", "familyName": "Family"},
            display_name="template",
            emails=[{"value": "template@bench.example.com", "type": "work", "primary": True}],
            title="Engineer",
            active=True,
        )
    )
    user_ids: list[str] = []
    for start in range(0, count, BATCH):
        rows = [
            _user_row(directory_id, template, n) for n in range(start, min(start + BATCH, count))
        ]
        with writing(engine) as conn:
            conn.execute(USERS.table.insert(), rows)
        user_ids += [row["id"] for row in rows]
    with writing(engine) as conn:
        _keep_total(conn, USERS, directory_id, count)
    return user_ids


def _keep_total(conn: Connection, table: ResourceTable, directory_id: str, expected: int) -> None:
    """Bring the store's kept total of a resource type in line with rows inserted in bulk."""
    missing = expected - table.count(conn, directory_id, None)
    if missing:
        table.add_to_total(conn, directory_id, missing)
    counted = table.count(conn, directory_id, None)
    if counted != expected:
        raise RuntimeError(f"the store counts {counted} {table.noun}s, {expected} were seeded")


def _user_row(directory_id: str, template: dict[str, Any], n: int) -> dict[str, Any]:
    name = user_name(n)
    doc = {
        **template,
        "userName": name,
        "externalId": f"ext-{n:07d}",
        "name": {"givenName": f"Given{n}", "familyName": f"Family{n}"},
        "displayName": f"Given{n} Family{n}",
        "emails": [{**template["emails"][0], "value": name}],
    }
    stored = StoredResource.new(new_id(), doc, utcnow())
    return {
        "directory_id": directory_id,
        **vars(stored),
        **USERS.columns(PLAIN, directory_id, stored.id, doc),
    }


def _insert_group(engine: Engine, directory_id: str, member_ids: list[str]) -> str:
    doc = {"schemas": [GROUP_SCHEMA], "displayName": f"Group of {len(member_ids)}"}
    group = StoredResource.new(new_id(), doc, utcnow())
    with writing(engine) as conn:
        GROUPS.insert(conn, directory_id, group)
        for start in range(0, len(member_ids), BATCH):
            _add_members(conn, directory_id, group.id, member_ids[start : start + BATCH])
    return group.id


def _add_members(conn: Connection, directory_id: str, group_id: str, ids: list[str]) -> None:
    memberships.add(conn, directory_id, group_id, [memberships.NewMember(i, "User") for i in ids])


def postgresql_reachable() -> bool:
    try:
        with psycopg.connect(f"{POSTGRES_DSN} dbname=postgres"):
            return True
    except psycopg.OperationalError:
        return False


@contextmanager
def postgresql_database() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards."""
    name = f"scimgate_bench_{secrets.token_hex(4)}"
    with psycopg.connect(f"{POSTGRES_DSN} dbname=postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(f"{POSTGRES_DSN} dbname=postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def empty_database(backend: str) -> Iterator[str]:
    """A new, empty database of either backend, removed afterwards."""
    if backend == "postgresql":
        with postgresql_database() as url:
            yield url
        return
    with tempfile.TemporaryDirectory(prefix="scimgate-bench-") as folder:
        yield f"sqlite:///{folder}/bench.db"
