"""Logs: administrative actions (audit) and SCIM requests (provisioning log)."""

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, text

from scimgate.store.tables.base import Document, Sealable, Timestamp, Uuid, metadata

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("id", Uuid, nullable=False, unique=True),
    Column("at", Timestamp(), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(200), nullable=False),
    Column("target_type", String(64)),
    Column("target_id", String(512)),
    Column("organization_id", Uuid),
    Column("outcome", String(16), nullable=False),
    Column("detail", String(1024)),
    Column("count", Integer, nullable=False, server_default="1"),
    Column("client", String(64)),
    Index(None, "at"),
    Index(None, "organization_id", "seq"),
    Index(None, "client", "at"),
    sqlite_autoincrement=True,
)
"""Every administrative action: who, when, on what, with what result.

Rows are appended and never changed, but for the ``count`` of refused
credentials: those of one client address, action and reason within a minute
share a row (migration 0016), so that a flood of them stays a few rows.
"""

provisioning_logs = Table(
    "provisioning_logs",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("directory_id", Uuid, ForeignKey("directories.id"), nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("received_at", Timestamp(), nullable=False),
    Column("method", String(8), nullable=False),
    Column("path", String(2048), nullable=False),
    Column("query", Sealable),
    Column("status", Integer, nullable=False),
    Column("latency_ms", Integer, nullable=False),
    Column("client", String(16)),
    Column("user_agent", String(512)),
    Column("scim_type", String(32)),
    Column("error_detail", Sealable),
    Column("resource_type", String(16)),
    Column("resource_id", String(64)),
    Column("user_name", Sealable),
    Column("request_body", Document),
    Column("response_body", Document),
    Column("diagnosis", Sealable),
    Column("user_name_key", String(64)),
    Index(None, "directory_id", "received_at"),
    Index(None, "directory_id", "status", "received_at"),
    Index(None, "request_id"),
    Index(None, "received_at"),
    # A search by user (migrations 0022, 0024): partial, since most entries name no user or
    # resource.
    *(
        Index(
            f"ix_provisioning_logs_directory_id_{column}",
            "directory_id",
            column,
            "received_at",
            sqlite_where=text(f"{column} IS NOT NULL"),
            postgresql_where=text(f"{column} IS NOT NULL"),
        )
        for column in ("user_name_key", "resource_id")
    ),
)
"""Every SCIM request to a directory, with what support needs to explain a failure.

``user_name_key`` is what support finds a user's requests by, in any case: the
keyed hash of the folded ``user_name`` with encryption at rest on, else its
SHA-256 (``store.provisioning_logs``).
"""
