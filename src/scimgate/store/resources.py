"""Rows of SCIM resources (users and groups): the document plus its indexed columns.

With encryption at rest on (``scimgate.store.encryption``), the document and the
personal name columns are stored encrypted, the lookup columns (``*_key``,
``external_id``) hold keyed hashes, and a user's e-mail addresses have hash rows
of their own; everything read is decrypted here, so callers see plain resources.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from scim2_models.path import AttributeBinding
from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Table,
    bindparam,
    delete,
    func,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from scimgate.scim.compare import fold
from scimgate.store.batches import batches
from scimgate.store.by_ids import ByIds, by_ids
from scimgate.store.encryption import (
    EMAIL_LOOKUP,
    GROUP_EXTERNAL_ID_LOOKUP,
    GROUP_NAME_LOOKUP,
    USER_EXTERNAL_ID_LOOKUP,
    USER_NAME_LOOKUP,
    Keyring,
    key_id_of,
    keyring_of,
    refuse_plain_read,
)
from scimgate.store.errors import NotFound
from scimgate.store.prepared import Prepared
from scimgate.store.query.constructs import sqlite_json_path
from scimgate.store.query.sealed import sealed_condition
from scimgate.store.query.sorting import check_sortable, ordering
from scimgate.store.tables import (
    group_members,
    groups,
    resource_counts,
    user_email_hashes,
    user_roles,
    users,
)

MAX_OFFSET = 2**62
"""The largest offset sent to the database (SCIM's ``startIndex`` has no upper bound)."""


@dataclass(frozen=True)
class Resealed:
    """One batch of a rotation: the last id it reached (None: the table is done), rows changed."""

    last_id: str | None
    changed: int


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
    sealed_columns: Callable[[Keyring, str, str, dict[str, Any]], dict[str, Any]]
    """The stored columns with encryption on: (keyring, directory id, resource id, document)."""

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

    def insert(self, conn: Connection, directory_id: str, resource: StoredResource) -> None:
        keyring = keyring_of(conn)
        if keyring is None:
            row = {
                "directory_id": directory_id,
                **vars(resource),
                **self.index_columns(resource.doc),
            }
            self._insert.execute(conn, row)
        else:
            row = {
                "directory_id": directory_id,
                **vars(resource),
                **self.sealed_columns(keyring, directory_id, resource.id, resource.doc),
            }
            self._insert.execute(conn, row)
            self._index_emails(conn, keyring, directory_id, resource.id, resource.doc)
        self.add_to_total(conn, directory_id, 1)

    def _index_emails(
        self,
        conn: Connection,
        keyring: Keyring,
        directory_id: str,
        resource_id: str,
        doc: dict[str, Any],
        *,
        replacing: bool = False,
    ) -> None:
        """Keep a user's e-mail hash rows (encryption on): what ``emails.value eq`` finds."""
        if self.table is not users:
            return
        if replacing:
            conn.execute(
                delete(user_email_hashes).where(user_email_hashes.c.user_id == resource_id)
            )
        hashes = sorted(
            {
                _hash_of(keyring, directory_id, email["value"])
                for email in doc.get("emails") or []
                if isinstance(email, dict)
                and isinstance(email.get("value"), str)
                and email["value"]
            }
        )
        if hashes:
            conn.execute(
                user_email_hashes.insert(),
                [
                    {"user_id": resource_id, "hash": each, "directory_id": directory_id}
                    for each in hashes
                ],
            )

    def _stored(
        self, keyring: Keyring | None, directory_id: str, row: Sequence[Any]
    ) -> StoredResource:
        """A row read back as a resource, its document decrypted (the row starts with the
        columns of :meth:`_stored_columns`)."""
        resource_id, document, created_at, modified_at, version, confirmed_at = row[:6]
        if keyring is None:
            if document.__class__ is str:  # an encrypted one: refused, never served
                refuse_plain_read(f"{self.table.name}.doc", document)
        else:
            document = keyring.open_document(
                document, f"{self.table.name}.doc", directory_id, resource_id
            )
        return StoredResource(resource_id, document, created_at, modified_at, version, confirmed_at)

    def get(
        self, conn: Connection, directory_id: str, resource_id: str, *, for_update: bool = False
    ) -> StoredResource | None:
        query = self._get_for_update if for_update else self._get
        row = query.first(conn, {"directory_id": directory_id, "id": resource_id})
        if row is None:
            return None
        return self._stored(keyring_of(conn), directory_id, row)

    def get_many(
        self, conn: Connection, directory_id: str, resource_ids: Sequence[str]
    ) -> dict[str, StoredResource]:
        """These resources of the directory by id, one statement per batch of ids; ids the
        directory does not have are left out."""
        keyring = keyring_of(conn)
        found: dict[str, StoredResource] = {}
        for batch in batches(resource_ids):
            rows = self._get_many.run(conn, batch, {"directory_id": directory_id})
            found.update((row[0], self._stored(keyring, directory_id, row)) for row in rows)
        return found

    @cached_property
    def _get_many(self) -> ByIds[Select[Any]]:
        return by_ids(
            lambda ids: select(*self._stored_columns()).where(
                self.table.c.directory_id == bindparam("directory_id"), ids
            ),
            self.table.c.id,
            "ids",
        )

    @cached_property
    def _get(self) -> Prepared:
        return Prepared(self._get_statement)

    @cached_property
    def _get_for_update(self) -> Prepared:
        return Prepared(self._get_statement.with_for_update())

    @property
    def _get_statement(self) -> Select[Any]:
        return select(*self._stored_columns()).where(
            self.table.c.directory_id == bindparam("directory_id"),
            self.table.c.id == bindparam("id"),
        )

    @cached_property
    def _insert(self) -> Prepared:
        """Every column is set: the row of :meth:`insert`, plain or encrypted."""
        return Prepared(self.table.insert(), [column.key for column in self.table.c])

    def replace(self, conn: Connection, directory_id: str, resource: StoredResource) -> None:
        """Store a new state of an existing resource (whose version the caller has checked)."""
        keyring = keyring_of(conn)
        if keyring is None:
            columns = {"doc": resource.doc, **self.index_columns(resource.doc)}
        else:
            columns = self.sealed_columns(keyring, directory_id, resource.id, resource.doc)
        self._replace.execute(conn, {**_version_of(directory_id, resource), **columns})
        if keyring is not None:
            self._index_emails(
                conn, keyring, directory_id, resource.id, resource.doc, replacing=True
            )

    @cached_property
    def _replace(self) -> Prepared:
        """Every column but the key and the creation time: the document and its index columns,
        plain or encrypted, and the version's."""
        fixed = ("id", "directory_id", "created_at")
        return self._update_by_id([c.key for c in self.table.c if c.key not in fixed])

    def advance(self, conn: Connection, directory_id: str, resource: StoredResource) -> None:
        """Store a new version of a resource whose document did not change (its members did)."""
        self._advance.execute(conn, _version_of(directory_id, resource))

    @cached_property
    def _advance(self) -> Prepared:
        return self._update_by_id(["modified_at", "version", "confirmed_at"])

    def _update_by_id(self, column_keys: list[str]) -> Prepared:
        """An update of these columns of one resource, named by ``b_directory_id`` and ``b_id``."""
        return Prepared(
            update(self.table).where(
                self.table.c.directory_id == bindparam("b_directory_id"),
                self.table.c.id == bindparam("b_id"),
            ),
            column_keys,
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
        self._confirm.execute_each(
            conn,
            (
                {"b_directory_id": directory_id, "b_id": each, "confirmed_at": at}
                for each in resource_ids
            ),
        )

    @cached_property
    def _confirm(self) -> Prepared:
        return self._update_by_id(["confirmed_at"])

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
        keyring = keyring_of(conn)
        if keyring is None:
            return [(row[0], row[1], row[2]) for row in rows]
        place = f"{self.table.name}.{name.name}"
        return [(row[0], keyring.open(row[1], place, directory_id, row[0]), row[2]) for row in rows]

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
        _ADD_TO_TOTAL[conn.dialect.name].execute(
            conn, {"directory_id": directory_id, "resource_type": self.noun, "change": change}
        )

    def holding(self, conn: Connection, directory_id: str, key: str) -> list[StoredResource]:
        """The resources whose document has a top-level ``key`` (an extension's URN)."""
        keyring = keyring_of(conn)
        if keyring is not None:
            # Encrypted documents cannot be searched in SQL: read the directory's, keep holders.
            query = select(*self._stored_columns()).where(self.table.c.directory_id == directory_id)
            every = conn.execute(query.order_by(self.table.c.id))
            resources = [self._stored(keyring, directory_id, row) for row in every]
            return [resource for resource in resources if key in resource.doc]
        document = self.table.c.doc
        held = (
            func.jsonb_exists(document, key)
            if conn.dialect.name == "postgresql"
            else func.json_type(document, sqlite_json_path((key,))).is_not(None)
        )
        query = select(*self._stored_columns()).where(self.table.c.directory_id == directory_id)
        rows = conn.execute(query.where(held).order_by(self.table.c.id))
        return [self._stored(None, directory_id, row) for row in rows]

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
                select(*self._stored_columns())
                .where(
                    c.directory_id == bindparam("directory_id"),
                    c[column] == bindparam("value"),
                )
                .order_by(c.id)
                .limit(bindparam("limit"))
            )
            self._matching[column] = query
        rows = query.rows(conn, {"directory_id": directory_id, "value": value, "limit": limit})
        return [self._stored(None, directory_id, row) for row in rows]

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
        keyring = keyring_of(conn)
        if keyring is not None:
            condition = sealed_condition(condition, keyring, directory_id)
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
        keyring = keyring_of(conn)
        if keyring is not None:
            check_sortable(order_by)
            if condition is not None:
                condition = sealed_condition(condition, keyring, directory_id)
        query = select(*self._stored_columns()).where(self.table.c.directory_id == directory_id)
        if condition is not None:
            query = query.where(condition)
        if after_id is not None:
            query = query.where(self.table.c.id > after_id)
        query = query.order_by(*order_by).limit(limit)
        if offset:
            # Past the last row every offset reads nothing; keep it within a 64-bit integer.
            query = query.offset(min(offset, MAX_OFFSET))
        return [self._stored(keyring, directory_id, row) for row in conn.execute(query)]

    def reseal(self, conn: Connection, keyring: Keyring, after_id: str, limit: int) -> Resealed:
        """Encrypt up to ``limit`` rows (in id order, after ``after_id``) under the newest key.

        Rows already under it are left alone; plain rows (written before encryption
        was on) are encrypted. The rows are locked for the transaction, so a
        concurrent write of the same resource waits and then writes over it.
        Nothing a client sees changes: not the version, not the modification time.
        """
        c = self.table.c
        query = (
            select(c.directory_id, c.id, c.doc)
            .where(c.id > after_id)
            .order_by(c.id)
            .limit(limit)
            .with_for_update()
        )
        rows = conn.execute(query).all()
        changed = 0
        for directory_id, resource_id, stored in rows:
            if keyring.key_id_of(stored) == keyring.newest.id:
                continue
            place = f"{self.table.name}.doc"
            doc = keyring.open_document(stored, place, directory_id, resource_id)
            conn.execute(
                update(self.table)
                .where(c.id == resource_id)
                .values(**self.sealed_columns(keyring, directory_id, resource_id, doc))
            )
            self._index_emails(conn, keyring, directory_id, resource_id, doc, replacing=True)
            changed += 1
        return Resealed(rows[-1].id if rows else None, changed)

    def key_census(self, conn: Connection) -> dict[str | None, int]:
        """How many rows each key id protects (None: plain rows)."""
        census: dict[str | None, int] = {}
        for stored in conn.execute(select(self._name_column)).scalars():
            key_id = key_id_of(stored)
            census[key_id] = census.get(key_id, 0) + 1
        return census

    @property
    def _name_column(self) -> Any:
        c = self.table.c
        return c.user_name if "user_name" in c else c.display_name

    def _stored_columns(self) -> list[Any]:
        c = self.table.c
        return [c.id, c.doc, c.created_at, c.modified_at, c.version, c.confirmed_at]


def _version_of(directory_id: str, resource: StoredResource) -> dict[str, Any]:
    """The parameters of an update naming a resource and setting its version's columns."""
    return {
        "b_directory_id": directory_id,
        "b_id": resource.id,
        "modified_at": resource.modified_at,
        "version": resource.version,
        "confirmed_at": resource.confirmed_at,
    }


def _user_columns(doc: dict[str, Any]) -> dict[str, Any]:
    user_name = doc["userName"]
    return {
        "user_name": user_name,
        "user_name_key": fold(user_name),
        "external_id": doc.get("externalId"),
        "display_name": doc.get("displayName"),
        "active": doc.get("active"),
    }


def _hash_of(keyring: Keyring, directory_id: str, email: str) -> str:
    return keyring.lookups(EMAIL_LOOKUP, directory_id, fold(email), plain=False)[0]


def _sealed_user_columns(
    keyring: Keyring, directory_id: str, user_id: str, doc: dict[str, Any]
) -> dict[str, Any]:
    user_name = doc["userName"]
    return {
        "doc": keyring.seal_document(doc, "users.doc", directory_id, user_id),
        "user_name": keyring.seal(user_name, "users.user_name", directory_id, user_id),
        "user_name_key": keyring.lookup(USER_NAME_LOOKUP, directory_id, fold(user_name)),
        "external_id": keyring.lookup(USER_EXTERNAL_ID_LOOKUP, directory_id, doc.get("externalId")),
        "display_name": keyring.seal_optional(
            doc.get("displayName"), "users.display_name", directory_id, user_id
        ),
        "active": doc.get("active"),
    }


def _sealed_group_columns(
    keyring: Keyring, directory_id: str, group_id: str, doc: dict[str, Any]
) -> dict[str, Any]:
    display_name = doc["displayName"]
    return {
        "doc": keyring.seal_document(doc, "groups.doc", directory_id, group_id),
        "display_name": keyring.seal(display_name, "groups.display_name", directory_id, group_id),
        "display_name_key": keyring.lookup(GROUP_NAME_LOOKUP, directory_id, fold(display_name)),
        "external_id": keyring.lookup(
            GROUP_EXTERNAL_ID_LOOKUP, directory_id, doc.get("externalId")
        ),
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


_SEALED_USER_NAME_HOLDER = (
    select(users.c.id)
    .where(
        users.c.directory_id == bindparam("directory_id"),
        users.c.user_name_key.in_(bindparam("user_name_keys", expanding=True)),
    )
    .limit(1)
)
"""With encryption on: the userName's hash under every key (and its plain form, not rotated)."""


def user_name_holder(conn: Connection, directory_id: str, user_name: str) -> str | None:
    """The id of the user whose userName is ``user_name`` in any case, if one holds it.

    With encryption on, during a rotation a userName's row holds its hash under
    the old key or the new one, never both, and every write asks here first
    (writes to a directory take turns), so userName stays unique.
    """
    keyring = keyring_of(conn)
    if keyring is None:
        return conn.execute(
            _USER_NAME_HOLDER, {"directory_id": directory_id, "user_name_key": fold(user_name)}
        ).scalar()
    keys = keyring.lookups(USER_NAME_LOOKUP, directory_id, fold(user_name))
    return conn.execute(
        _SEALED_USER_NAME_HOLDER, {"directory_id": directory_id, "user_name_keys": keys}
    ).scalar()


def user_names_held_by_index(conn: Connection) -> bool:
    """Whether the unique index on ``user_name_key`` alone keeps userNames unique.

    Not with encryption on: during a rotation one row holds a userName's hash
    under the old key and a new row would hold it under the new one, so every
    write asks :func:`user_name_holder` first.
    """
    return keyring_of(conn) is None


def group_named(conn: Connection, directory_id: str, display_name: str) -> str | None:
    """The id of one group of the directory whose displayName is this one in any case."""
    keyring = keyring_of(conn)
    folded = fold(display_name)
    names = (
        [folded] if keyring is None else keyring.lookups(GROUP_NAME_LOOKUP, directory_id, folded)
    )
    return GROUPS.find_id(conn, directory_id, groups.c.display_name_key.in_(names))


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
    "postgresql": Prepared(_adding_to_total(postgresql_insert)),
    "sqlite": Prepared(_adding_to_total(sqlite_insert)),
}

USERS = ResourceTable("user", users, _user_columns, _sealed_user_columns)
GROUPS = ResourceTable("group", groups, _group_columns, _sealed_group_columns)


_USERS_WITH_ROLES = by_ids(
    lambda ids: (
        select(*USERS._stored_columns(), user_roles.c.roles)
        .select_from(
            users.outerjoin(
                user_roles,
                (user_roles.c.directory_id == users.c.directory_id)
                & (user_roles.c.user_id == users.c.id),
            )
        )
        .where(users.c.directory_id == bindparam("directory_id"), ids)
    ),
    users.c.id,
    "ids",
)
"""Built once: read for every user an event is about (a member added, say)."""


def users_with_roles(
    conn: Connection, directory_id: str, user_ids: Sequence[str]
) -> dict[str, tuple[StoredResource, list[str]]]:
    """These users of the directory by id, each with its stored roles (none if never
    computed), one statement per batch of ids; ids the directory does not have are left out."""
    keyring = keyring_of(conn)
    found: dict[str, tuple[StoredResource, list[str]]] = {}
    for batch in batches(user_ids):
        for row in _USERS_WITH_ROLES.run(conn, batch, {"directory_id": directory_id}):
            found[row[0]] = (USERS._stored(keyring, directory_id, row), list(row[6] or []))
    return found


GroupRow = tuple[str, str, str | None]
"""A group a user is in: its id, displayName and externalId."""


def _with_groups(ids: Callable[[ColumnElement[Any]], ColumnElement[bool]]) -> Any:
    """Each user's row with its roles (group columns null), then a row per group it is in
    (user columns null)."""
    gm = group_members.c
    user_rows = (
        select(*USERS._stored_columns(), user_roles.c.roles, null(), null(), null())
        .select_from(
            users.outerjoin(
                user_roles,
                (user_roles.c.directory_id == users.c.directory_id)
                & (user_roles.c.user_id == users.c.id),
            )
        )
        .where(users.c.directory_id == bindparam("directory_id"), ids(users.c.id))
    )
    group_rows = (
        select(
            gm.member_id, *[null()] * 6, groups.c.id, groups.c.display_name, groups.c.external_id
        )
        .select_from(group_members.join(groups, groups.c.id == gm.group_id))
        .where(gm.directory_id == bindparam("directory_id"), ids(gm.member_id))
    )
    return union_all(user_rows, group_rows)


_USERS_WITH_GROUPS = ByIds(
    _with_groups(lambda column: column.in_(bindparam("ids", expanding=True))),
    _with_groups(lambda column: column == bindparam("ids")),
    "ids",
)
"""Built once: read for every user an event is about (a member added, say)."""


def users_with_groups(
    conn: Connection, directory_id: str, user_ids: Sequence[str]
) -> dict[str, tuple[StoredResource, list[str], list[GroupRow]]] | None:
    """What :func:`users_with_roles` reads, and each user's groups in id order, in one
    statement per batch; None with encryption on, where group names are sealed (read
    them with ``membership_lists.groups_of``)."""
    if keyring_of(conn) is not None:
        return None
    found: dict[str, tuple[StoredResource, list[str], list[GroupRow]]] = {}
    in_groups: dict[str, list[GroupRow]] = {}
    for batch in batches(user_ids):
        for row in _USERS_WITH_GROUPS.run(conn, batch, {"directory_id": directory_id}):
            if row[7] is None:
                stored = USERS._stored(None, directory_id, row)
                found[row[0]] = (stored, list(row[6] or []), in_groups.setdefault(row[0], []))
            else:
                in_groups.setdefault(row[0], []).append((row[7], row[8], row[9]))
    for _, _, groups_in in found.values():
        groups_in.sort(key=lambda group: group[0])
    return found
