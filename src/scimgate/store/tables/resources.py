"""Users and groups, and the rows kept with them: memberships, e-mail hashes, counts.

Resources keep their full SCIM document in ``doc`` (without the server-owned
``id`` and ``meta``, and without anything derived from membership rows), next to
indexed columns for what identity providers look up: the case-folded
``userName``, ``externalId``, ``displayName`` and ``active``.
"""

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, UniqueConstraint

from scimgate.scim.values import EXTERNAL_ID_MAX, GROUP_DISPLAY_NAME_MAX, USER_NAME_MAX
from scimgate.store.tables.base import Document, Sealable, Timestamp, Uuid, metadata

users = Table(
    "users",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("directory_id", Uuid, ForeignKey("directories.id"), nullable=False),
    Column("user_name", Sealable, nullable=False),
    Column("user_name_key", String(USER_NAME_MAX), nullable=False),
    Column("external_id", String(EXTERNAL_ID_MAX)),
    Column("display_name", Sealable),
    Column("active", Boolean),
    Column("doc", Document, nullable=False),
    Column("created_at", Timestamp(), nullable=False),
    Column("modified_at", Timestamp(), nullable=False),
    Column("version", Integer, nullable=False),
    Column("confirmed_at", Timestamp()),
    UniqueConstraint("directory_id", "user_name_key"),
    Index(None, "directory_id", "id"),
    Index(None, "directory_id", "external_id"),
)

user_email_hashes = Table(
    "user_email_hashes",
    metadata,
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("hash", String(64), primary_key=True),
    Column("directory_id", Uuid, ForeignKey("directories.id"), nullable=False),
    Index(None, "directory_id", "hash"),
)
"""With encryption at rest on: the keyed hash of each of a user's e-mail addresses.

The addresses themselves are only in the encrypted document; ``emails.value eq``
filters find users through these rows. Empty while encryption is off.
"""

resource_counts = Table(
    "resource_counts",
    metadata,
    Column("directory_id", Uuid, ForeignKey("directories.id"), primary_key=True),
    Column("resource_type", String(8), primary_key=True),
    Column("total", Integer, nullable=False),
)
"""How many users and groups each directory holds, kept with every insert and delete.

A list's ``totalResults`` without a filter reads this row instead of counting
the directory's rows, which would cost as much as the directory is large.
"""

groups = Table(
    "groups",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("directory_id", Uuid, ForeignKey("directories.id"), nullable=False),
    Column("display_name", Sealable, nullable=False),
    Column("display_name_key", String(GROUP_DISPLAY_NAME_MAX), nullable=False),
    Column("external_id", String(EXTERNAL_ID_MAX)),
    Column("doc", Document, nullable=False),
    Column("created_at", Timestamp(), nullable=False),
    Column("modified_at", Timestamp(), nullable=False),
    Column("version", Integer, nullable=False),
    Column("confirmed_at", Timestamp()),
    Index(None, "directory_id", "id"),
    Index(None, "directory_id", "display_name_key"),
    Index(None, "directory_id", "external_id"),
)

group_members = Table(
    "group_members",
    metadata,
    Column("group_id", Uuid, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("member_id", Uuid, primary_key=True),
    Column("directory_id", Uuid, ForeignKey("directories.id"), nullable=False),
    Column("member_type", String(8), nullable=False),
    Column("display", Sealable),
    Index(None, "directory_id", "member_id"),
)
"""One row per membership: a member is a user or a nested group."""
