"""Writing a resource type's rows: create, replace, version, confirm, delete, re-encrypt.

The columns are made through the connection's codec (``store/column_codec.py``): with
encryption at rest on, the document and the personal name columns are stored
encrypted, the lookup columns (``*_key``, ``external_id``) hold keyed hashes, and a
user's e-mail addresses have hash rows of their own (``store/email_hashes.py``).
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Insert, bindparam, delete, literal, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from scimgate.records import cached_property
from scimgate.store.column_codec import ColumnCodec, SealedColumns, codec_of
from scimgate.store.email_hashes import index_emails
from scimgate.store.encryption import Keyring, Resealed
from scimgate.store.prepared import Prepared
from scimgate.store.stored_resources import ResourceLayout, StoredResource
from scimgate.store.tables.resources import resource_counts, users


class ResourceWrites(ResourceLayout):
    """The writes of one resource type, each keeping the directory's total of it."""

    def insert(self, conn: Connection, directory_id: str, resource: StoredResource) -> None:
        codec = codec_of(conn)
        row = {
            "directory_id": directory_id,
            **vars(resource),
            **self.columns(codec, directory_id, resource.id, resource.doc),
        }
        if conn.dialect.name == "postgresql":
            self._insert_counted.execute(conn, row)
        else:
            self._insert.execute(conn, row)
            self.add_to_total(conn, directory_id, 1)
        self._index_emails(conn, codec, directory_id, resource.id, resource.doc)

    @cached_property
    def _insert(self) -> Prepared:
        """Every column is set: the row of :meth:`insert`, plain or encrypted."""
        return Prepared(self.table.insert(), [column.key for column in self.table.c])

    @cached_property
    def _insert_counted(self) -> Prepared:
        """PostgreSQL: the row of :meth:`insert` and one more in the directory's total, in
        one statement, so one round trip, where SQLite makes two calls into the process."""
        return Prepared(self.counted_insert())

    def counted_insert(self) -> Insert:
        """PostgreSQL: the insert of a row of every column (its values the parameters named
        by the columns' keys), made by the upsert that counts it in the directory's total."""
        table = self.table
        inserted = (
            table.insert()
            .values({column.key: bindparam(column.key, type_=column.type) for column in table.c})
            .returning(table.c.directory_id)
            .cte("inserted")
        )
        one_more = select(inserted.c.directory_id, literal(self.noun), literal(1))
        counting: Insert = _adding(postgresql_insert, resource_counts.c.total + 1).from_select(
            ["directory_id", "resource_type", "total"], one_more
        )
        return counting

    def replace(
        self,
        conn: Connection,
        directory_id: str,
        previous: dict[str, Any],
        resource: StoredResource,
    ) -> None:
        """Store a new state of an existing resource (whose version the caller has checked)
        in place of ``previous``, the document its row held.

        The update sets the document, the version's columns and only those of the
        columns derived from the document whose values change: SQLite rewrites the
        entries of every index on a column an update sets, whether its value changed or
        not (about 25 µs against 9 for a user's row whose userName, externalId and
        displayName stay). With encryption on every column is set, so that the whole row
        is under the newest key, as re-encryption (:meth:`reseal`) takes a row whose
        document is.
        """
        codec = codec_of(conn)
        columns = self.columns(codec, directory_id, resource.id, resource.doc)
        if codec.sealed:
            changed = tuple(key for key in columns if key != "doc")
        else:
            before = self.columns(codec, directory_id, resource.id, previous)
            changed = tuple(key for key in columns if key != "doc" and columns[key] != before[key])
        values = {key: columns[key] for key in ("doc", *changed)}
        self._replacing(changed).execute(conn, {**_version_of(directory_id, resource), **values})
        self._index_emails(conn, codec, directory_id, resource.id, resource.doc, replacing=True)

    def _replacing(self, changed: tuple[str, ...]) -> Prepared:
        """The update of the document, the columns ``changed`` and the version's columns (one
        statement for each set of changed columns, built once)."""
        found = self._replacements.get(changed)
        if found is None:
            columns = ["doc", *changed, "modified_at", "version", "confirmed_at"]
            found = self._replacements[changed] = self._update_by_id(columns)
        return found

    @cached_property
    def _replacements(self) -> dict[tuple[str, ...], Prepared]:
        return {}

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

    def reseal(
        self, conn: Connection, keyring: Keyring, after_id: str, limit: int
    ) -> Resealed[str]:
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
        codec = SealedColumns(keyring)
        changed = 0
        for directory_id, resource_id, stored in rows:
            if keyring.key_id_of(stored) == keyring.newest.id:
                continue
            place = f"{self.table.name}.doc"
            doc = codec.open_document(stored, place, directory_id, resource_id)
            conn.execute(
                update(self.table)
                .where(c.id == resource_id)
                .values(**self.columns(codec, directory_id, resource_id, doc))
            )
            self._index_emails(conn, codec, directory_id, resource_id, doc, replacing=True)
            changed += 1
        return Resealed(rows[-1].id if rows else None, changed)

    def _index_emails(
        self,
        conn: Connection,
        codec: ColumnCodec,
        directory_id: str,
        resource_id: str,
        doc: dict[str, Any],
        *,
        replacing: bool = False,
    ) -> None:
        """A user's e-mail hash rows, kept with its row when sealed (a plain document is
        searched itself); groups have none."""
        if self.table is users and codec.sealed:
            index_emails(conn, codec, directory_id, resource_id, doc, replacing=replacing)


def _version_of(directory_id: str, resource: StoredResource) -> dict[str, Any]:
    """The parameters of an update naming a resource and setting its version's columns."""
    return {
        "b_directory_id": directory_id,
        "b_id": resource.id,
        "modified_at": resource.modified_at,
        "version": resource.version,
        "confirmed_at": resource.confirmed_at,
    }


def _adding_to_total(insert: Any) -> Any:
    """An upsert that adds ``:change`` to a directory's total of one resource type."""
    return _adding(insert, resource_counts.c.total + bindparam("change")).values(
        directory_id=bindparam("directory_id"),
        resource_type=bindparam("resource_type"),
        total=bindparam("change"),
    )


def _adding(insert: Any, total: Any) -> Any:
    """An insert into ``resource_counts`` that sets an existing row's total to ``total``."""
    return insert(resource_counts).on_conflict_do_update(
        index_elements=[resource_counts.c.directory_id, resource_counts.c.resource_type],
        set_={"total": total},
    )


_ADD_TO_TOTAL = {
    "postgresql": Prepared(_adding_to_total(postgresql_insert)),
    "sqlite": Prepared(_adding_to_total(sqlite_insert)),
}
