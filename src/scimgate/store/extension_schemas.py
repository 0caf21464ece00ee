"""The extension schemas registered for a directory."""

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select, update

from scimgate.records import frozen
from scimgate.store.tables.configuration import extension_schemas
from scimgate.store.tables.tenancy import directories


@frozen
class RegisteredSchema:
    id: str
    """The schema's URN."""

    resource_type: str
    """``User`` or ``Group``: the resource type the schema extends."""

    definition: dict[str, Any]
    created_at: datetime


def add(conn: Connection, directory_id: str, schema: RegisteredSchema) -> None:
    conn.execute(extension_schemas.insert().values(directory_id=directory_id, **vars(schema)))
    _bump_revision(conn, directory_id)


def remove(conn: Connection, directory_id: str, schema_id: str) -> bool:
    result = conn.execute(
        delete(extension_schemas).where(
            extension_schemas.c.directory_id == directory_id, extension_schemas.c.id == schema_id
        )
    )
    if result.rowcount != 1:
        return False
    _bump_revision(conn, directory_id)
    return True


def registered(conn: Connection, directory_id: str) -> list[RegisteredSchema]:
    """The directory's schemas, oldest first."""
    c = extension_schemas.c
    rows = conn.execute(
        select(c.id, c.resource_type, c.definition, c.created_at)
        .where(c.directory_id == directory_id)
        .order_by(c.created_at, c.id)
    )
    return [RegisteredSchema(**row._mapping) for row in rows]


def _bump_revision(conn: Connection, directory_id: str) -> None:
    conn.execute(
        update(directories)
        .where(directories.c.id == directory_id)
        .values(schemas_revision=directories.c.schemas_revision + 1)
    )
