"""Organizations, their directories, and what lets a SCIM client in: tokens and rate limits."""

from sqlalchemy import BigInteger, Column, Float, ForeignKey, Integer, String, Table

from scimgate.store.tables.base import Timestamp, Uuid, metadata

organizations = Table(
    "organizations",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", Timestamp(), nullable=False),
)

directories = Table(
    "directories",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("organization_id", Uuid, ForeignKey("organizations.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("created_at", Timestamp(), nullable=False),
    Column("idp", String(16), nullable=False, server_default="generic"),
    Column("idp_detected", String(16)),
    Column("schemas_revision", Integer, nullable=False, server_default="0"),
    Column("activated_at", Timestamp()),
    Column("delivery", String(16), nullable=False, server_default="live"),
    Column("held_since", Timestamp()),
    Column("safety_max_count", Integer, nullable=False, server_default="50"),
    Column("safety_max_percent", Integer, nullable=False, server_default="10"),
    Column("safety_window_minutes", Integer, nullable=False, server_default="60"),
    Column("safety_reset_at", Timestamp()),
    Column("assignment_group", String(512)),
    Column("config_stamp", BigInteger, nullable=False, server_default="0"),
    Column("kind", String(16), nullable=False, server_default="scim"),
)
"""``kind`` is ``scim`` (its IdP pushes through SCIM) or ``google`` (scimgate pulls it from
Google Workspace). ``delivery`` is ``live``, ``held`` (the safety valve tripped) or
``review`` (dry run).
``config_stamp`` takes a new random value with every change of the role rules or attribute
mappings (``scimgate.store.configuration``)."""

scim_tokens = Table(
    "scim_tokens",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("directory_id", Uuid, ForeignKey("directories.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("hint", String(32), nullable=False),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("created_at", Timestamp(), nullable=False),
    Column("last_used_at", Timestamp()),
    Column("revoked_at", Timestamp()),
    Column("expires_at", Timestamp()),
    Column("oauth_client_id", Uuid, index=True),
)
"""A bearer token that opens one directory's SCIM endpoint: one an administrator created
(no expiry, no client), or an access token its OAuth client obtained at ``/oauth/token``
(``expires_at`` and ``oauth_client_id`` set; revoked with its client or the client's secret)."""

oauth_clients = Table(
    "oauth_clients",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("directory_id", Uuid, ForeignKey("directories.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("hint", String(32), nullable=False),
    Column("created_at", Timestamp(), nullable=False),
    Column("rotated_at", Timestamp()),
    Column("revoked_at", Timestamp()),
)
"""An OAuth 2.0 client of one directory (client credentials grant, RFC 6749 §4.4): its ``id``
is its ``client_id``, and its secret is stored as its SHA-256 only, like a token's."""

credential_stamps = Table(
    "credential_stamps",
    metadata,
    Column("directory_id", Uuid, primary_key=True),
    Column("version", BigInteger, nullable=False, server_default="1"),
)
"""One row per directory whose ``version`` moves, by database triggers, whenever the
directory's row changes or one of its tokens is revoked: a server process that keeps tokens
and directory rows in memory reads this one number to know they still hold."""

rate_buckets = Table(
    "rate_buckets",
    metadata,
    Column("directory_id", Uuid, primary_key=True),
    Column("bucket", String(64), primary_key=True),
    Column("tat", Float(precision=53), nullable=False),
)
"""Rate limits shared by every server process on PostgreSQL: one row per limited bucket.

``bucket`` is ``directory`` or ``token:<token id>``. ``tat`` is the bucket's
theoretical arrival time (GCRA), in seconds since the epoch on the database's clock:
a request is admitted while ``tat`` lies at most the burst allowance ahead of now.
The table is unlogged (migration 0015): a crash of the database refills the buckets,
and a request's bucket update waits for no disk flush.
"""
