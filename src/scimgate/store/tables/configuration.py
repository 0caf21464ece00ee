"""Per directory: attribute mappings, extension schemas, role rules and the roles they give."""

from sqlalchemy import Column, ForeignKey, Integer, String, Table

from scimgate.store.tables.base import Document, Timestamp, Uuid, metadata

attribute_mappings = Table(
    "attribute_mappings",
    metadata,
    Column("directory_id", Uuid, ForeignKey("directories.id"), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("path", String(512), nullable=False),
)
"""Per directory: a named custom attribute of the normalized view, read from a SCIM path."""

extension_schemas = Table(
    "extension_schemas",
    metadata,
    Column("directory_id", Uuid, ForeignKey("directories.id"), primary_key=True),
    Column("id", String(512), primary_key=True),
    Column("resource_type", String(16), nullable=False),
    Column("definition", Document, nullable=False),
    Column("created_at", Timestamp(), nullable=False),
)
"""Per directory: the extension schemas (RFC 7643 §7) its users or groups may carry."""

role_rules = Table(
    "role_rules",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("directory_id", Uuid, ForeignKey("directories.id"), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("match", String(512), nullable=False),
    Column("role", String(64), nullable=False),
    Column("priority", Integer, nullable=False),
)
"""Per directory: members of a group (by name or IdP id) get a role; ``default`` when none."""

user_roles = Table(
    "user_roles",
    metadata,
    Column("directory_id", Uuid, ForeignKey("directories.id"), primary_key=True),
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("roles", Document, nullable=False),
)
"""A user's effective roles, kept current as memberships and rules change."""
