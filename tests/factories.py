"""Test data made one way: a new directory with its scope, a directory's organization."""

import secrets

from sqlalchemy import Engine

from scimgate.scim.limits import Limits
from scimgate.service.administration import tenants
from scimgate.service.provisioning.scope import Scope
from scimgate.store import tenants as stored_tenants
from scimgate.store.transactions import reading

BASE_URL = "http://x.example"
"""The root the service layer's tests give their scopes: no server answers there."""


def new_scope(engine: Engine, name: str = "test", base_url: str = BASE_URL) -> Scope:
    """A new directory, of a new organization, as a SCIM request for it would see it."""
    organization = tenants.create_organization(engine, f"{name} {secrets.token_hex(3)}")
    directory = tenants.create_directory(engine, organization.id, name).directory
    return Scope(engine, directory, f"{base_url}/scim/v2/{directory.id}", Limits())


def scope_of(engine: Engine, directory_id: str, base_url: str = BASE_URL) -> Scope:
    """The scope of a directory that exists."""
    with reading(engine) as conn:
        directory = stored_tenants.existing_directory(conn, directory_id)
    return Scope(engine, directory, f"{base_url}/scim/v2/{directory_id}", Limits())


def organization_of(engine: Engine, directory_id: str) -> str:
    """The id of the organization a directory belongs to."""
    with reading(engine) as conn:
        return stored_tenants.existing_directory(conn, directory_id).organization_id
