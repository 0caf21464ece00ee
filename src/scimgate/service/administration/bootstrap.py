"""First start: a database with nothing in it gets a demo directory and a first admin key."""

from sqlalchemy import Engine

from scimgate.records import frozen
from scimgate.service.administration import admin_keys, tenants
from scimgate.store.migrate import first_start_lock, upgrade

DEMO_ORGANIZATION = "Demo organization"
DEMO_DIRECTORY = "Demo directory"
FIRST_ADMIN_KEY = "first admin key"


@frozen
class Bootstrap:
    """What a first start created; None when the database already had directories."""

    created: tenants.NewDirectory | None
    admin_key: admin_keys.IssuedKey | None = None
    """A write key to sign in to the portal with, shown once."""


def prepare_database(engine: Engine) -> Bootstrap:
    """Migrate the database, and create the demo directory when there is no directory at all."""
    upgrade(engine)
    with first_start_lock(engine):
        if tenants.list_directories(engine):
            return Bootstrap(None)
        organization = tenants.ensure_organization(engine, DEMO_ORGANIZATION)
        directory = tenants.create_directory(engine, organization.id, DEMO_DIRECTORY)
        first_key = None
        if not admin_keys.list_keys(engine):
            first_key = admin_keys.create_key(engine, FIRST_ADMIN_KEY, "write")
    return Bootstrap(directory, first_key)
