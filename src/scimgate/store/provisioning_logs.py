"""The provisioning log: one row per authenticated SCIM request of a directory.

A user's entries are found by a key of the folded userName: its SHA-256, or with
encryption at rest on its keyed hash, the bodies and the userName then stored
encrypted (bound to the entry).
"""

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    bindparam,
    delete,
    or_,
    select,
    union,
    update,
)

from scimgate.records import frozen
from scimgate.scim.compare import fold
from scimgate.store.column_codec import ColumnCodec, SealedColumns, codec_of
from scimgate.store.encryption import LOG_USER_NAME_LOOKUP, Keyring, Resealed, count_keys, key_id_of
from scimgate.store.prepared import Prepared
from scimgate.store.tables.logs import provisioning_logs
from scimgate.store.tables.offboarding import user_tombstones

_SEALED_TEXTS = ("user_name", "query", "error_detail", "diagnosis")
"""What may name a person: the userName, a filter in the query, an error's detail."""
_SEALED_BODIES = ("request_body", "response_body")


@frozen
class LogEntry:
    """A SCIM request as the log keeps it: no headers but the user agent, bodies scrubbed."""

    id: str
    directory_id: str
    request_id: str
    received_at: datetime
    method: str
    path: str
    query: str | None
    status: int
    latency_ms: int
    client: str | None
    user_agent: str | None
    scim_type: str | None
    error_detail: str | None
    resource_type: str | None
    resource_id: str | None
    user_name: str | None
    request_body: Any
    response_body: Any
    diagnosis: str | None


@frozen
class LogSearch:
    """Which entries of a directory to list, newest first."""

    directory_id: str
    limit: int
    status_from: int | None = None
    status_to: int | None = None
    """Inclusive bounds of the answer's status."""

    user: str | None = None
    """A userName (in any case) or a resource id."""

    since: datetime | None = None
    until: datetime | None = None
    before: tuple[datetime, str] | None = None
    """Keyset cursor: the (received_at, id) of the last entry of the previous page."""


_SUMMARY_COLUMNS = [
    column
    for column in provisioning_logs.c
    if column.name not in ("request_body", "response_body", "user_name_key")
]
_ENTRY_COLUMNS = [column for column in provisioning_logs.c if column.name != "user_name_key"]


_INSERT = Prepared(provisioning_logs.insert(), [column.key for column in provisioning_logs.c])
"""Every request writes an entry: the insert is handed to the driver (``store.prepared``)."""


def insert(conn: Connection, entries: list[LogEntry]) -> None:
    if entries:
        codec = codec_of(conn)
        _INSERT.execute_each(conn, [_row(codec, entry) for entry in entries])


def _row(codec: ColumnCodec, entry: LogEntry) -> dict[str, Any]:
    row = dict(vars(entry))
    row["user_name_key"] = (
        None if entry.user_name is None else _name_key(codec, entry.directory_id, entry.user_name)
    )
    if not codec.sealed:  # stored as they are: every request writes an entry
        return row
    where = (entry.directory_id, entry.id)
    for name in _SEALED_TEXTS:
        row[name] = codec.seal_optional(row[name], f"provisioning_logs.{name}", *where)
    for body in _SEALED_BODIES:
        if row[body] is not None:
            row[body] = codec.seal_document(row[body], f"provisioning_logs.{body}", *where)
    return row


def _name_key(codec: ColumnCodec, directory_id: str, user_name: str) -> str:
    """What finds an entry by its userName, in any case: the keyed hash of its folded form
    with encryption at rest on, else that form's SHA-256 (``plain_name_key``)."""
    if codec.sealed:
        return codec.lookup(LOG_USER_NAME_LOOKUP, directory_id, fold(user_name))
    return plain_name_key(user_name)


def plain_name_key(user_name: str) -> str:
    """The key of a userName written without encryption at rest: the SHA-256 of its folded
    form (``scim.compare.fold``, Unicode's case rules), which fits the key's 64 characters
    however long the name. The database's own ``lower()`` is not used: SQLite's folds ASCII
    letters only."""
    return hashlib.sha256(fold(user_name).encode()).hexdigest()


def _entry(codec: ColumnCodec, row: Any, **extra: Any) -> LogEntry:
    values = {**row._mapping, **extra}
    where = (values["directory_id"], values["id"])
    for name in _SEALED_TEXTS:
        values[name] = codec.open_optional(values[name], f"provisioning_logs.{name}", *where)
    for body in _SEALED_BODIES:
        if values[body] is not None:
            values[body] = codec.open_value(values[body], f"provisioning_logs.{body}", *where)
    return LogEntry(**values)


def get(conn: Connection, log_id: str, directory_id: str | None = None) -> LogEntry | None:
    """One entry with its bodies; within one directory when it is named."""
    query = select(*_ENTRY_COLUMNS).where(provisioning_logs.c.id == log_id)
    if directory_id is not None:
        query = query.where(provisioning_logs.c.directory_id == directory_id)
    row = conn.execute(query).first()
    return _entry(codec_of(conn), row) if row else None


def by_request_id(conn: Connection, request_id: str) -> LogEntry | None:
    row = conn.execute(
        select(*_ENTRY_COLUMNS)
        .where(provisioning_logs.c.request_id == request_id)
        .order_by(provisioning_logs.c.received_at.desc())
        .limit(1)
    ).first()
    return _entry(codec_of(conn), row) if row else None


def search(conn: Connection, where: LogSearch) -> list[LogEntry]:
    """A page of entries without their bodies, newest first (keyset on received_at, id).

    A search by user is two lookups, one by userName and one by resource id, each read
    newest first from its own index (migration 0022) and merged: asked as one ``OR``,
    it would walk the directory's whole log.
    """
    c = provisioning_logs.c
    codec = codec_of(conn)
    conditions = [c.directory_id == where.directory_id, *_bounds(where)]
    newest = (c.received_at.desc(), c.id.desc())
    query = select(*_SUMMARY_COLUMNS).where(*conditions).order_by(*newest).limit(where.limit)
    if where.user is not None:
        branches = [
            query.where(*matched).subquery()
            for matched in _user_matches(codec, where.directory_id, where.user)
        ]
        merged = union(*(select(*branch.c) for branch in branches)).subquery()
        query = (
            select(*merged.c)
            .order_by(merged.c.received_at.desc(), merged.c.id.desc())
            .limit(where.limit)
        )
    return [
        _entry(codec, row, request_body=None, response_body=None) for row in conn.execute(query)
    ]


def _bounds(where: LogSearch) -> list[ColumnElement[bool]]:
    """The conditions of a search's status, time span and page."""
    c = provisioning_logs.c
    found: list[ColumnElement[bool]] = []
    if where.status_from is not None:
        found.append(c.status >= where.status_from)
    if where.status_to is not None:
        found.append(c.status <= where.status_to)
    if where.since is not None:
        found.append(c.received_at >= where.since)
    if where.until is not None:
        found.append(c.received_at < where.until)
    if where.before is not None:
        at, log_id = where.before
        found.append(or_(c.received_at < at, and_(c.received_at == at, c.id < log_id)))
    return found


def _user_matches(
    codec: ColumnCodec, directory_id: str, user: str
) -> list[tuple[ColumnElement[bool], ...]]:
    """The two lookups of a search by user: its userName, its resource id. Each names its
    column's ``IS NOT NULL`` too, which lets the database use its partial index."""
    c = provisioning_logs.c
    # userName is case-insensitive in SCIM: the IdP and support may spell it differently.
    # Entries written before encryption at rest was on hold the plain key.
    keys = [plain_name_key(user)]
    if codec.sealed:
        keys += codec.lookups(LOG_USER_NAME_LOOKUP, directory_id, fold(user))
    by_name = (c.user_name_key.is_not(None), c.user_name_key.in_(keys))
    return [by_name, (c.resource_id.is_not(None), c.resource_id == user)]


def purge_before(conn: Connection, received_before: datetime) -> int:
    return conn.execute(
        delete(provisioning_logs).where(provisioning_logs.c.received_at < received_before)
    ).rowcount


_DELETED_AT = Prepared(
    select(user_tombstones.c.deleted_at).where(
        user_tombstones.c.directory_id == bindparam("directory_id"),
        user_tombstones.c.user_id == bindparam("user_id"),
    )
)
"""Asked by the diagnosis of every 404 on a user, as its log entry is written: handed to the
driver (``store.prepared``), as the entries' insert is."""


def deleted_at(conn: Connection, directory_id: str, user_id: str) -> datetime | None:
    """When a deleted user of the directory was deleted, while its tombstone is kept."""
    row = _DELETED_AT.first(conn, {"directory_id": directory_id, "user_id": user_id})
    return None if row is None else row[0]


def reseal(conn: Connection, keyring: Keyring, after: str, limit: int) -> Resealed[str]:
    """Encrypt up to ``limit`` entries (in id order, after ``after``) under the newest key."""
    c = provisioning_logs.c
    rows = conn.execute(
        select(*_ENTRY_COLUMNS).where(c.id > after).order_by(c.id).limit(limit).with_for_update()
    ).all()
    codec = SealedColumns(keyring)
    changed = 0
    for row in rows:
        stored = [row._mapping[name] for name in (*_SEALED_TEXTS, *_SEALED_BODIES)]
        if all(v is None or key_id_of(v) == keyring.newest.id for v in stored):
            continue
        entry = _entry(codec, row)
        sealed = _row(codec, entry)
        conn.execute(
            update(provisioning_logs)
            .where(c.id == entry.id)
            .values({name: sealed[name] for name in (*_SEALED_TEXTS, *_SEALED_BODIES)})
            .values(user_name_key=sealed["user_name_key"])
        )
        changed += 1
    return Resealed(rows[-1].id if rows else None, changed)


def key_census(conn: Connection) -> dict[str | None, int]:
    """How many entries with a request body each key id protects (None: plain)."""
    bodies = conn.execute(select(provisioning_logs.c.request_body)).scalars()
    # JSON null (None) is a request without a body.
    return count_keys(body for body in bodies if body is not None)
