"""The database schema, as SQLAlchemy Core tables: one module per area.

Every tenant-owned table carries ``directory_id`` and every index that serves
a lookup starts with it, so that a query for one directory never reads another
directory's rows and costs the same whatever the size of the other tenants.

This package imports every table module, so that ``metadata`` describes the
whole schema: what migrations are generated from and checked against.
"""

from scimgate.store.tables import (
    access,
    configuration,
    event_stream,
    logs,
    offboarding,
    pull,
    resources,
    tenancy,
    webhooks,
)
from scimgate.store.tables.base import metadata

__all__ = [
    "access",
    "configuration",
    "event_stream",
    "logs",
    "metadata",
    "offboarding",
    "pull",
    "resources",
    "tenancy",
    "webhooks",
]
