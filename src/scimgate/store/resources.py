"""Rows of SCIM resources (users and groups): the document plus its indexed columns."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from scim2_models import NotFoundException
from sqlalchemy import (
    ColumnElement,
    Connection,
    Insert,
    Select,
    Table,
    bindparam,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from scimgate.scim.compare import fold
from scimgate.store.filtering import sqlite_json_path
from scimgate.store.tables import groups, resource_counts, users

MAX_OFFSET = 2**62
"""The largest offset sent to the database (SCIM's ``startIndex`` has no upper bound)."""


@dataclass(frozen=True)
class StoredResource:
    """A resource as stored: its SCIM document and the server-owned values around it."""

    id: str
    doc: dict[str, Any]
    created_at: datetime
    modified_at: datetime
    version: int
    confirmed_at: datetime | None = None
    """When the IdP last sent or asked for the resource (drift detection)."""

    @classmethod
    def new(cls, resource_id: str, doc: dict[str, Any], at: datetime) -> "StoredResource":
        return cls(resource_id, doc, at, at, 1, at)

    def evolved(self, doc: dict[str, Any], at: datetime) -> "StoredResource":
        """The next version of this resource, holding ``doc``."""
        return StoredResource(self.id, doc, self.created_at, at, self.version + 1, at)


@dataclass(frozen=True)
class ResourceTable:
    """How one resource type is laid out: its table and the columns derived from its document."""

    noun: str
    """What the resource is called in messages: "user", "group"."""

    table: Table
    index_columns: Callable[[dict[str, Any]], dict[str, Any]]

    def existing(
        self, conn: Connection, directory_id: str, resource_id: str, *, for_update: bool
    ) -> StoredResource:
        """The stored resource, or the SCIM 404 for one the directory does not have."""
        # An id with U+0000 names nothing, and PostgreSQL text cannot even hold it.
        has_nul = "\x00" in resource_id
        stored = (
            None if has_nul else self.get(conn, directory_id, resource_id, for_update=for_update)
        )
        if stored is None:
            raise NotFoundException(
                detail=f"No {self.noun} with id {resource_id} in this directory"
            )
        return stored

    def insert(self, conn: Connection, directory_id: str, resource: StoredResource) -> None:
        row = {"directory_id": directory_id, **vars(resource), **self.index_columns(resource.doc)}
        conn.execute(self._insert, row)
        self.add_to_total(conn, directory_id, 1)

    def get(
        self, conn: Connection, directory_id: str, resource_id: str, *, for_update: bool = False
    ) -> StoredResource | None:
        query = self._get_for_update if for_update else self._get
        row = conn.execute(query, {"directory_id": directory_id, "id": resource_id}).first()
        return StoredResource(**row._mapping) if row else None

    @cached_property
    def _get(self) -> Select[Any]:
        return select(*self._stored_columns()).where(
            self.table.c.directory_id == bindparam("directory_id"),
            self.table.c.id == bindparam("id"),
        )

    @cached_property
    def _get_for_update(self) -> Select[Any]:
        return self._get.with_for_update()

    @cached_property
    def _insert(self) -> Insert:
        return self.table.insert()

    def replace(self, conn: Connection, directory_id: str, resource: StoredResource) -> None:
        """Store a new state of an existing resource (whose version the caller has checked)."""
        conn.execute(
            update(self.table)
            .where(self.table.c.directory_id == directory_id, self.table.c.id == resource.id)
            .values(
                doc=resource.doc,
                modified_at=resource.modified_at,
                version=resource.version,
                confirmed_at=resource.confirmed_at,
                **self.index_columns(resource.doc),
            )
        )

    def touch(self, conn: Connection, directory_id: str, resource_id: str, at: datetime) -> None:
        """Mark a resource as changed without rewriting its document (a membership change)."""
        conn.execute(
            update(self.table)
            .where(self.table.c.directory_id == directory_id, self.table.c.id == resource_id)
            .values(modified_at=at, version=self.table.c.version + 1)
        )

    def confirm(
        self, conn: Connection, directory_id: str, resource_ids: Sequence[str], at: datetime
    ) -> None:
        """Record that the IdP still sends or asks for these resources."""
        conn.execute(
            update(self.table)
            .where(self.table.c.directory_id == directory_id, self.table.c.id.in_(resource_ids))
            .values(confirmed_at=at)
        )

    def unconfirmed_since(
        self, conn: Connection, directory_id: str, since: datetime
    ) -> list[tuple[str, str, datetime | None]]:
        """Resources the IdP has not sent or asked for since ``since``: id, name, last time."""
        c = self.table.c
        name = c.user_name if "user_name" in c else c.display_name
        rows = conn.execute(
            select(c.id, name, c.confirmed_at)
            .where(
                c.directory_id == directory_id,
                (c.confirmed_at.is_(None)) | (c.confirmed_at < since),
            )
            .order_by(c.confirmed_at, c.id)
        )
        return [(row[0], row[1], row[2]) for row in rows]

    def delete(self, conn: Connection, directory_id: str, resource_id: str) -> bool:
        result = conn.execute(
            delete(self.table).where(
                self.table.c.directory_id == directory_id, self.table.c.id == resource_id
            )
        )
        if result.rowcount != 1:
            return False
        self.add_to_total(conn, directory_id, -1)
        return True

    def add_to_total(self, conn: Connection, directory_id: str, change: int) -> None:
        """Move a directory's kept total (``insert`` and ``delete`` do; a bulk load calls it)."""
        conn.execute(
            _ADD_TO_TOTAL[conn.dialect.name],
            {"directory_id": directory_id, "resource_type": self.noun, "change": change},
        )

    def holding(self, conn: Connection, directory_id: str, key: str) -> list[StoredResource]:
        """The resources whose document has a top-level ``key`` (an extension's URN)."""
        document = self.table.c.doc
        held = (
            func.jsonb_exists(document, key)
            if conn.dialect.name == "postgresql"
            else func.json_type(document, sqlite_json_path((key,))).is_not(None)
        )
        query = select(*self._stored_columns()).where(self.table.c.directory_id == directory_id)
        rows = conn.execute(query.where(held).order_by(self.table.c.id))
        return [StoredResource(**row._mapping) for row in rows]

    def existing_ids(
        self, conn: Connection, directory_id: str, resource_ids: Sequence[str]
    ) -> set[str]:
        """Which of these ids name a resource of this type in the directory."""
        if not resource_ids:
            return set()
        rows = conn.execute(
            select(self.table.c.id).where(
                self.table.c.directory_id == directory_id, self.table.c.id.in_(resource_ids)
            )
        )
        return {row.id for row in rows}

    def find_id(
        self, conn: Connection, directory_id: str, condition: ColumnElement[bool]
    ) -> str | None:
        """The id of one resource of the directory meeting an indexed condition."""
        return conn.execute(
            select(self.table.c.id)
            .where(self.table.c.directory_id == directory_id, condition)
            .limit(1)
        ).scalar()

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
        query = select(func.count()).select_from(self.table)
        query = query.where(self.table.c.directory_id == directory_id, condition)
        return int(conn.execute(query).scalar_one())

    def page(
        self,
        conn: Connection,
        directory_id: str,
        condition: ColumnElement[bool] | None,
        order_by: Sequence[ColumnElement[Any]],
        limit: int,
        *,
        offset: int = 0,
        after_id: str | None = None,
    ) -> list[StoredResource]:
        """One page in the given order; ``after_id`` resumes an id-ordered walk (keyset)."""
        query = select(*self._stored_columns()).where(self.table.c.directory_id == directory_id)
        if condition is not None:
            query = query.where(condition)
        if after_id is not None:
            query = query.where(self.table.c.id > after_id)
        query = query.order_by(*order_by).limit(limit)
        if offset:
            # Past the last row every offset reads nothing; keep it within a 64-bit integer.
            query = query.offset(min(offset, MAX_OFFSET))
        return [StoredResource(**row._mapping) for row in conn.execute(query)]

    def _stored_columns(self) -> list[Any]:
        c = self.table.c
        return [c.id, c.doc, c.created_at, c.modified_at, c.version, c.confirmed_at]


def _user_columns(doc: dict[str, Any]) -> dict[str, Any]:
    user_name = doc["userName"]
    return {
        "user_name": user_name,
        "user_name_key": fold(user_name),
        "external_id": doc.get("externalId"),
        "display_name": doc.get("displayName"),
        "active": doc.get("active"),
    }


def _group_columns(doc: dict[str, Any]) -> dict[str, Any]:
    display_name = doc["displayName"]
    return {
        "display_name": display_name,
        "display_name_key": fold(display_name),
        "external_id": doc.get("externalId"),
    }


_USER_NAME_HOLDER = (
    select(users.c.id)
    .where(
        users.c.directory_id == bindparam("directory_id"),
        users.c.user_name_key == bindparam("user_name_key"),
    )
    .limit(1)
)
"""Built once: asked before every user is created."""


def user_name_holder(conn: Connection, directory_id: str, user_name: str) -> str | None:
    """The id of the user whose userName is ``user_name`` in any case, if one holds it."""
    return conn.execute(
        _USER_NAME_HOLDER, {"directory_id": directory_id, "user_name_key": fold(user_name)}
    ).scalar()


def _adding_to_total(insert: Any) -> Any:
    """An upsert that adds ``:change`` to a directory's total of one resource type."""
    return (
        insert(resource_counts)
        .values(
            directory_id=bindparam("directory_id"),
            resource_type=bindparam("resource_type"),
            total=bindparam("change"),
        )
        .on_conflict_do_update(
            index_elements=[resource_counts.c.directory_id, resource_counts.c.resource_type],
            set_={"total": resource_counts.c.total + bindparam("change")},
        )
    )


_ADD_TO_TOTAL = {
    "postgresql": _adding_to_total(postgresql_insert),
    "sqlite": _adding_to_total(sqlite_insert),
}

USERS = ResourceTable("user", users, _user_columns)
GROUPS = ResourceTable("group", groups, _group_columns)
