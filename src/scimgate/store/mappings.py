"""Attribute mappings of a directory: custom attribute name -> SCIM path.

Every change of them restamps the directory (``scimgate.store.configuration``).
"""

from sqlalchemy import Connection, bindparam, delete, select

from scimgate.store.configuration import restamp
from scimgate.store.tables.configuration import attribute_mappings


def set_mapping(conn: Connection, directory_id: str, name: str, path: str) -> None:
    remove_mapping(conn, directory_id, name)
    conn.execute(
        attribute_mappings.insert().values(directory_id=directory_id, name=name, path=path)
    )
    restamp(conn, directory_id)


def remove_mapping(conn: Connection, directory_id: str, name: str) -> bool:
    result = conn.execute(
        delete(attribute_mappings).where(
            attribute_mappings.c.directory_id == directory_id, attribute_mappings.c.name == name
        )
    )
    if result.rowcount != 1:
        return False
    restamp(conn, directory_id)
    return True


_MAPPINGS = (
    select(attribute_mappings.c.name, attribute_mappings.c.path)
    .where(attribute_mappings.c.directory_id == bindparam("directory_id"))
    .order_by(attribute_mappings.c.name)
)
"""Built once: read for every user event."""


def mappings(conn: Connection, directory_id: str) -> dict[str, str]:
    rows = conn.execute(_MAPPINGS, {"directory_id": directory_id})
    return {row.name: row.path for row in rows}
