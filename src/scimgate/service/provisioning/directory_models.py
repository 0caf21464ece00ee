"""Each directory's resource models: core schemas plus the extensions it registered."""

import json
from functools import lru_cache

from sqlalchemy import Engine

from scimgate.scim.extensions import ResourceModels, resource_models
from scimgate.store import extension_schemas
from scimgate.store.tenants import Directory
from scimgate.store.transactions import reading


def directory_models(engine: Engine, directory: Directory) -> ResourceModels:
    """The models of the directory's resources, rebuilt only when its schemas change."""
    return _models(engine, directory.id, directory.schemas_revision)


@lru_cache(maxsize=1024)
def _models(engine: Engine, directory_id: str, revision: int) -> ResourceModels:
    with reading(engine) as conn:
        found = extension_schemas.registered(conn, directory_id)
    return resource_models(
        tuple((each.resource_type, json.dumps(each.definition, sort_keys=True)) for each in found)
    )
