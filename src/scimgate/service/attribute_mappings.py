"""Use cases on a directory's attribute mappings."""

from sqlalchemy import Connection, Engine

from scimgate.scim.attribute_mapping import DEFAULTS, checked_mapping
from scimgate.service.tenants import effective_idp
from scimgate.store import mappings, tenants
from scimgate.store.tenants import Directory
from scimgate.store.transactions import reading, writing


def set_mapping(engine: Engine, directory_id: str, name: str, path: str) -> None:
    """Map a custom attribute to a SCIM path (replacing a default or earlier mapping)."""
    checked = checked_mapping(name, path)
    with writing(engine) as conn:
        _directory(conn, directory_id)
        mappings.set_mapping(conn, directory_id, name, checked)


def remove_mapping(engine: Engine, directory_id: str, name: str) -> bool:
    with writing(engine) as conn:
        return mappings.remove_mapping(conn, directory_id, name)


def effective_mappings(engine: Engine, directory_id: str) -> dict[str, str]:
    """The directory's mappings over its IdP profile's defaults."""
    with reading(engine) as conn:
        directory = _directory(conn, directory_id)
        own = mappings.mappings(conn, directory_id)
    return {**DEFAULTS[effective_idp(directory)], **own}


def _directory(conn: Connection, directory_id: str) -> Directory:
    found = tenants.get_directory(conn, directory_id)
    if found is None:
        raise LookupError(f"no directory {directory_id}")
    return found
