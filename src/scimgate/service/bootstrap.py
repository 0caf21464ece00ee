"""First start: a database with nothing in it gets a demo organization and directory."""

from dataclasses import dataclass

from sqlalchemy import Engine

from scimgate.service import tenants
from scimgate.store.migrate import upgrade

DEMO_ORGANIZATION = "Demo organization"
DEMO_DIRECTORY = "Demo directory"


@dataclass(frozen=True)
class Bootstrap:
    """What a first start created; None when the database already had directories."""

    created: tenants.NewDirectory | None


def prepare_database(engine: Engine) -> Bootstrap:
    """Migrate the database, and create the demo directory when there is no directory at all."""
    upgrade(engine)
    if tenants.list_directories(engine):
        return Bootstrap(None)
    organization = tenants.ensure_organization(engine, DEMO_ORGANIZATION)
    return Bootstrap(tenants.create_directory(engine, organization.id, DEMO_DIRECTORY))
