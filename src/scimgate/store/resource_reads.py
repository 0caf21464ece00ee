"""Reading a resource type's rows: by id, by an indexed value, and pages of a filtered list.

Documents and names are opened as they are read (decrypted, with encryption at rest
on), and a filter is given as the stored rows can answer it (``store/column_codec.py``).
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from scim2_models.path import AttributeBinding
from sqlalchemy import ColumnElement, Connection, Select, bindparam, func, select

from scimgate.records import cached_property
from scimgate.store.batches import batches
from scimgate.store.by_ids import ByIds, by_ids
from scimgate.store.column_codec import PLAIN, codec_of
from scimgate.store.encryption import count_keys
from scimgate.store.errors import NotFound
from scimgate.store.prepared import Prepared
from scimgate.store.query.constructs import sqlite_json_path
from scimgate.store.query.sorting import ordering
from scimgate.store.stored_resources import ResourceLayout, StoredResource
from scimgate.store.tables.resources import resource_counts

MAX_OFFSET = 2**62
"""The largest offset sent to the database (SCIM's ``startIndex`` has no upper bound)."""


class ResourceReads(ResourceLayout):
    """The reads of one resource type."""

    def existing(
        self, conn: Connection, directory_id: str, resource_id: str, *, for_update: bool
    ) -> StoredResource:
        """The stored resource; ``NotFound`` for one the directory does not have."""
        # An id with U+0000 names nothing, and PostgreSQL text cannot even hold it.
        has_nul = "\x00" in resource_id
        stored = (
            None if has_nul else self.get(conn, directory_id, resource_id, for_update=for_update)
        )
        if stored is None:
            raise NotFound(self.noun, resource_id)
        return stored

    def get(
        self, conn: Connection, directory_id: str, resource_id: str, *, for_update: bool = False
    ) -> StoredResource | None:
        query = self._get_for_update if for_update else self._get
        row = query.first(conn, {"directory_id": directory_id, "id": resource_id})
        if row is None:
            return None
        return self.stored_from(codec_of(conn), directory_id, row)

    def get_many(
        self, conn: Connection, directory_id: str, resource_ids: Sequence[str]
    ) -> dict[str, StoredResource]:
        """These resources of the directory by id, one statement per batch of ids; ids the
        directory does not have are left out."""
        codec = codec_of(conn)
        found: dict[str, StoredResource] = {}
        for batch in batches(resource_ids):
            rows = self._get_many.run(conn, batch, {"directory_id": directory_id})
            found.update((row[0], self.stored_from(codec, directory_id, row)) for row in rows)
        return found

    @cached_property
    def _get_many(self) -> ByIds[Select[Any]]:
        return by_ids(
            lambda ids: select(*self.stored_columns()).where(
                self.table.c.directory_id == bindparam("directory_id"), ids
            ),
            self.table.c.id,
            "ids",
        )

    def lock(self, conn: Connection, directory_id: str, resource_id: str) -> bool:
        """Lock the resource's row until the transaction ends (``FOR UPDATE``), reading
        nothing of it; whether the directory has it."""
        if "\x00" in resource_id:  # names nothing, and PostgreSQL text cannot hold it
            return False
        return self._lock.first(conn, {"directory_id": directory_id, "id": resource_id}) is not None

    @cached_property
    def _lock(self) -> Prepared:
        return Prepared(select(self.table.c.id).where(*self._by_id).with_for_update())

    @cached_property
    def _get(self) -> Prepared:
        return Prepared(self._get_statement)

    @cached_property
    def _get_for_update(self) -> Prepared:
        return Prepared(self._get_statement.with_for_update())

    @property
    def _get_statement(self) -> Select[Any]:
        return select(*self.stored_columns()).where(*self._by_id)

    @property
    def _by_id(self) -> tuple[ColumnElement[bool], ...]:
        """One row of the directory, by id: ``directory_id`` and ``id`` as parameters."""
        return (
            self.table.c.directory_id == bindparam("directory_id"),
            self.table.c.id == bindparam("id"),
        )

    def unconfirmed_since(
        self, conn: Connection, directory_id: str, since: datetime
    ) -> list[tuple[str, str, datetime | None]]:
        """Resources the IdP has not sent or asked for since ``since``: id, name, last time."""
        c = self.table.c
        name = self.name_column
        rows = conn.execute(
            select(c.id, name, c.confirmed_at)
            .where(
                c.directory_id == directory_id,
                (c.confirmed_at.is_(None)) | (c.confirmed_at < since),
            )
            .order_by(c.confirmed_at, c.id)
        )
        codec = codec_of(conn)
        place = f"{self.table.name}.{name.name}"
        return [(row[0], codec.open(row[1], place, directory_id, row[0]), row[2]) for row in rows]

    def holding(self, conn: Connection, directory_id: str, key: str) -> list[StoredResource]:
        """The resources whose document has a top-level ``key`` (an extension's URN)."""
        codec = codec_of(conn)
        if codec.sealed:
            # Encrypted documents cannot be searched in SQL: read the directory's, keep holders.
            query = select(*self.stored_columns()).where(self.table.c.directory_id == directory_id)
            every = conn.execute(query.order_by(self.table.c.id))
            resources = [self.stored_from(codec, directory_id, row) for row in every]
            return [resource for resource in resources if key in resource.doc]
        document = self.table.c.doc
        held = (
            func.jsonb_exists(document, key)
            if conn.dialect.name == "postgresql"
            else func.json_type(document, sqlite_json_path((key,))).is_not(None)
        )
        query = select(*self.stored_columns()).where(self.table.c.directory_id == directory_id)
        rows = conn.execute(query.where(held).order_by(self.table.c.id))
        return [self.stored_from(codec, directory_id, row) for row in rows]

    def existing_ids(
        self,
        conn: Connection,
        directory_id: str,
        resource_ids: Sequence[str],
        *,
        lock: bool = False,
    ) -> set[str]:
        """Which of these ids name a resource of this type in the directory.

        ``lock`` keeps the rows found from being deleted until the transaction ends
        (``FOR KEY SHARE`` on PostgreSQL; SQLite writers take turns anyway), and
        skips rows whose deletion committed while it waited.
        """
        found: set[str] = set()
        query = self._existing_ids_locked if lock else self._existing_ids
        for batch in batches(resource_ids):
            rows = query.run(conn, batch, {"directory_id": directory_id})
            found.update(row[0] for row in rows)
        return found

    @cached_property
    def _existing_ids(self) -> ByIds[Select[Any]]:
        return by_ids(
            lambda ids: select(self.table.c.id).where(
                self.table.c.directory_id == bindparam("directory_id"), ids
            ),
            self.table.c.id,
            "ids",
        )

    @cached_property
    def _existing_ids_locked(self) -> ByIds[Select[Any]]:
        return self._existing_ids.map(
            lambda query: query.with_for_update(read=True, key_share=True)
        )

    def find_id(
        self, conn: Connection, directory_id: str, condition: ColumnElement[bool]
    ) -> str | None:
        """The id of one resource of the directory meeting an indexed condition."""
        return conn.execute(
            select(self.table.c.id)
            .where(self.table.c.directory_id == directory_id, condition)
            .limit(1)
        ).scalar()

    def matching(
        self, conn: Connection, directory_id: str, column: str, value: str, limit: int
    ) -> list[StoredResource]:
        """Up to ``limit`` of the directory's resources whose ``column`` holds ``value``, in id
        order: one indexed equality, through a statement built once per column.

        Plain rows only: with encryption on, the lookup columns hold keyed hashes.
        """
        query = self._matching.get(column)
        if query is None:
            c = self.table.c
            query = Prepared(
                select(*self.stored_columns())
                .where(
                    c.directory_id == bindparam("directory_id"),
                    c[column] == bindparam("value"),
                )
                .order_by(c.id)
                .limit(bindparam("limit"))
            )
            self._matching[column] = query
        rows = query.rows(conn, {"directory_id": directory_id, "value": value, "limit": limit})
        return [self.stored_from(PLAIN, directory_id, row) for row in rows]

    @cached_property
    def _matching(self) -> dict[str, Prepared]:
        return {}

    def count(
        self, conn: Connection, directory_id: str, condition: ColumnElement[bool] | None
    ) -> int:
        """How many of the directory's resources meet a condition (all of them: one row read)."""
        if condition is None:
            total = conn.execute(
                select(resource_counts.c.total).where(
                    resource_counts.c.directory_id == directory_id,
                    resource_counts.c.resource_type == self.noun,
                )
            ).scalar()
            return int(total or 0)
        condition = codec_of(conn).condition(condition, directory_id)
        query = select(func.count()).select_from(self.table)
        query = query.where(self.table.c.directory_id == directory_id, condition)
        return int(conn.execute(query).scalar_one())

    def page(
        self,
        conn: Connection,
        directory_id: str,
        condition: ColumnElement[bool] | None,
        limit: int,
        *,
        sort_by: AttributeBinding | None = None,
        descending: bool = False,
        offset: int = 0,
        after_id: str | None = None,
    ) -> list[StoredResource]:
        """One page, by ``sort_by`` then id (by id alone without it, which is creation order).

        ``after_id`` resumes an id-ordered walk (keyset).
        """
        order_by = ordering(self.table, sort_by, descending=descending)
        codec = codec_of(conn)
        codec.check_order(order_by)
        if condition is not None:
            condition = codec.condition(condition, directory_id)
        query = select(*self.stored_columns()).where(self.table.c.directory_id == directory_id)
        if condition is not None:
            query = query.where(condition)
        if after_id is not None:
            query = query.where(self.table.c.id > after_id)
        query = query.order_by(*order_by).limit(limit)
        if offset:
            # Past the last row every offset reads nothing; keep it within a 64-bit integer.
            query = query.offset(min(offset, MAX_OFFSET))
        return [self.stored_from(codec, directory_id, row) for row in conn.execute(query)]

    def key_census(self, conn: Connection) -> dict[str | None, int]:
        """How many rows each key id protects (None: plain rows)."""
        return count_keys(conn.execute(select(self.name_column)).scalars())
