"""Test data made one way: a new directory with its scope, a directory's organization, a
provisioning-log entry."""

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from scimgate.scim.limits import Limits
from scimgate.service.administration import tenants
from scimgate.service.provisioning.scope import Scope
from scimgate.store import tenants as stored_tenants
from scimgate.store.ids import new_id
from scimgate.store.provisioning_logs import LogEntry
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


def log_entry(directory_id: str, **fields: Any) -> LogEntry:
    """A provisioning-log entry of the directory: a lookup of its users, answered 200 in a
    millisecond and naming no one, but for what ``fields`` give."""
    values: dict[str, Any] = {
        "id": new_id(),
        "directory_id": directory_id,
        "request_id": new_id(),
        "received_at": datetime.now(UTC),
        "method": "GET",
        "path": f"/scim/v2/{directory_id}/Users",
        "query": None,
        "status": 200,
        "latency_ms": 1,
        "client": None,
        "user_agent": None,
        "scim_type": None,
        "error_detail": None,
        "resource_type": "User",
        "resource_id": None,
        "user_name": None,
        "request_body": None,
        "response_body": None,
        "diagnosis": None,
    }
    return LogEntry(**{**values, **fields})
