"""Encryption at rest: how many rows each key protects, and rotation to the newest key.

Rotation re-encrypts in small batches, one short transaction each, while the
service keeps running: during it, reads decrypt under either key and lookups ask
for the hash under every key, so nothing waits for it and nothing is missed.
It also encrypts rows written before encryption was turned on.
"""

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine

from scimgate.records import frozen
from scimgate.store import events, google_connections, memberships, offboarding, provisioning_logs
from scimgate.store.encryption import EncryptionError, Keyring, Resealed, keyring_of_engine
from scimgate.store.resource_tables import GROUPS, USERS
from scimgate.store.transactions import reading, writing

BATCH_SIZE = 200
"""Rows per rotation transaction: short enough that concurrent writes barely wait."""

PLAIN = "(plain)"
"""How status names rows not encrypted at all."""

GOOGLE_CREDENTIALS = "Google Workspace credentials"
"""Pulled directories' own credentials: service account keys and administrators' consents."""


@frozen
class TableKeys:
    """One kind of stored value and how many rows each key id protects (``PLAIN``: none)."""

    name: str
    rows_by_key: dict[str, int]


def status(engine: Engine) -> list[TableKeys]:
    """How many rows each key protects, per kind of value; plain rows under ``PLAIN``."""
    with reading(engine) as conn:
        found = [
            ("users", USERS.key_census(conn)),
            ("groups", GROUPS.key_census(conn)),
            ("group member names", memberships.key_census(conn)),
            ("events", events.key_census(conn, held_back=False)),
            ("held events", events.key_census(conn, held_back=True)),
            ("deprovisioning records", offboarding.name_key_census(conn)),
            ("tombstones", offboarding.tombstone_key_census(conn)),
            ("provisioning log", provisioning_logs.key_census(conn)),
            (GOOGLE_CREDENTIALS, google_connections.key_census(conn)),
        ]
    return [
        TableKeys(name, {key or PLAIN: count for key, count in sorted(census.items(), key=_order)})
        for name, census in found
    ]


def _order(item: tuple[str | None, int]) -> tuple[bool, str]:
    return (item[0] is None, item[0] or "")


@frozen
class Rotation:
    """What a rotation did: rows re-encrypted per kind of value, under which key."""

    key_id: str
    rewritten: dict[str, int]


Batch = Callable[[Connection, Keyring, Any, int], Resealed[Any]]
"""One rotation batch: (connection, keyring, position after which to go on, size) -> what it
did (the last position it reached, None when done; how many rows changed)."""


def _events(held_back: bool) -> Batch:
    def batch(conn: Connection, keyring: Keyring, after: Any, limit: int) -> Resealed[int]:
        return events.reseal(conn, keyring, held_back, after, limit)

    return batch


_ROTATED: list[tuple[str, Batch, Any]] = [
    ("users", USERS.reseal, ""),
    ("groups", GROUPS.reseal, ""),
    ("group member names", memberships.reseal, ("", "")),
    ("events", _events(held_back=False), 0),
    ("held events", _events(held_back=True), 0),
    ("deprovisioning records", offboarding.reseal_names, ""),
    ("tombstones", offboarding.reseal_tombstones, ("", "")),
    ("provisioning log", provisioning_logs.reseal, ""),
    (GOOGLE_CREDENTIALS, google_connections.reseal, ""),
]
"""What rotation rewrites, each from its first position."""


def rotate(engine: Engine, *, batch_size: int = BATCH_SIZE) -> Rotation:
    """Re-encrypt every row not under the newest key (plain rows included), batch by batch."""
    keyring = keyring_of_engine(engine)
    if keyring is None:
        raise EncryptionError(
            "encryption is off: set SCIMGATE_ENCRYPTION_KEYS (newest key first) to rotate"
        )
    rewritten = {}
    for name, batch, start in _ROTATED:
        after, total = start, 0
        while after is not None:
            with writing(engine) as conn:
                done = batch(conn, keyring, after, batch_size)
            after = done.last
            total += done.changed
        rewritten[name] = total
    return Rotation(keyring.newest.id, rewritten)
