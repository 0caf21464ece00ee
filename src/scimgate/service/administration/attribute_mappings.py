"""Use cases on a directory's attribute mappings."""

from scim2_models import InvalidPathException
from sqlalchemy import Engine

from scimgate.scim.attribute_mapping import DEFAULTS, checked_mapping
from scimgate.service.administration.tenants import effective_idp
from scimgate.service.directories import existing_directory
from scimgate.service.errors import InvalidPath
from scimgate.service.provisioning.directory_models import directory_models
from scimgate.store import mappings
from scimgate.store.tenants import Directory
from scimgate.store.transactions import reading, writing


def set_mapping(engine: Engine, directory_id: str, name: str, path: str) -> None:
    """Map a custom attribute to a SCIM path (replacing a default or earlier mapping)."""
    with reading(engine) as conn:
        directory = existing_directory(conn, directory_id)
    checked = mapping_path(engine, directory, name, path)
    with writing(engine) as conn:
        mappings.set_mapping(conn, directory_id, name, checked)


def mapping_path(engine: Engine, directory: Directory, name: str, path: str) -> str:
    """The path ``name`` would be mapped to, as stored; ``InvalidPath`` if it names no
    attribute of the directory's users (its extensions included)."""
    try:
        return checked_mapping(name, path, directory_models(engine, directory).user)
    except InvalidPathException as exc:
        raise InvalidPath(str(exc.detail)) from None


def remove_mapping(engine: Engine, directory_id: str, name: str) -> bool:
    with writing(engine) as conn:
        return mappings.remove_mapping(conn, directory_id, name)


def effective_mappings(engine: Engine, directory_id: str) -> dict[str, str]:
    """The directory's mappings over its IdP profile's defaults."""
    with reading(engine) as conn:
        directory = existing_directory(conn, directory_id)
        own = mappings.mappings(conn, directory_id)
    return {**DEFAULTS[effective_idp(directory)], **own}
