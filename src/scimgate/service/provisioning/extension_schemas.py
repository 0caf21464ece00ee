"""Use cases on a directory's extension schemas: register, list, remove, build models."""

from dataclasses import replace

from scim2_models import Schema
from sqlalchemy import Engine

from scimgate.events.diff import previous_attributes
from scimgate.events.models import EventType
from scimgate.scim.extensions import definition, read_schema
from scimgate.scim.google_workspace import GOOGLE_SCHEMA
from scimgate.service.directories import PULLED, existing_directory
from scimgate.service.errors import Conflict, NotFound, NotUnique
from scimgate.service.event_stream.changes import UnitOfWork, changing
from scimgate.store import extension_schemas
from scimgate.store.extension_schemas import RegisteredSchema
from scimgate.store.ids import utcnow
from scimgate.store.resource_tables import GROUPS, USERS, ResourceTable
from scimgate.store.transactions import reading, writing


def register(engine: Engine, directory_id: str, resource_type: str, payload: object) -> Schema:
    """Let the directory's users (or groups) carry a schema; its URN must be new to it."""
    schema = read_schema(payload, resource_type)
    with writing(engine) as conn:
        existing_directory(conn, directory_id)
        taken = {each.id.lower() for each in extension_schemas.registered(conn, directory_id)}
        if str(schema.id).lower() in taken:
            raise NotUnique(
                f"{schema.id} is already registered; remove it before registering a new definition"
            )
        extension_schemas.add(
            conn,
            directory_id,
            RegisteredSchema(str(schema.id), resource_type, definition(schema), utcnow()),
        )
    return schema


def registered(engine: Engine, directory_id: str) -> list[RegisteredSchema]:
    with reading(engine) as conn:
        existing_directory(conn, directory_id)
        return extension_schemas.registered(conn, directory_id)


def unregister(engine: Engine, directory_id: str, schema_id: str) -> int:
    """Remove a schema and, in the same transaction, its values from every resource.

    Returns how many resources held values. Each of them changes version and
    emits an update, as if the IdP had removed the values itself.
    """
    with changing(engine, directory_id) as work:
        conn = work.conn
        directory = existing_directory(conn, directory_id)
        if directory.kind == PULLED and schema_id.lower() == GOOGLE_SCHEMA.lower():
            raise Conflict(
                f"{GOOGLE_SCHEMA} holds what every sync of this Google Workspace directory "
                "writes: it stays registered"
            )
        found = next(
            (
                each
                for each in extension_schemas.registered(conn, directory_id)
                if each.id.lower() == schema_id.lower()
            ),
            None,
        )
        if found is None or not extension_schemas.remove(conn, directory_id, found.id):
            raise NotFound(f"no schema {schema_id} is registered here")
        table = USERS if found.resource_type == "User" else GROUPS
        return _purge(work, table, found.id)


def _purge(work: UnitOfWork, table: ResourceTable, schema_id: str) -> int:
    conn, directory_id = work.conn, work.directory_id
    holders = table.holding(conn, directory_id, schema_id)
    for stored in holders:
        doc = {key: value for key, value in stored.doc.items() if key != schema_id}
        doc["schemas"] = [each for each in doc.get("schemas", []) if each != schema_id]
        # An administrator's change, not the IdP's: the resource is no more confirmed than before.
        updated = replace(stored.evolved(doc, utcnow()), confirmed_at=stored.confirmed_at)
        changed = previous_attributes(stored.doc, doc)
        if table is USERS:
            state = work.builder.user(stored.id).state
            table.replace(conn, directory_id, stored.doc, updated)
            work.user_changed(stored.id, before=state, previous_attributes=changed)
        else:
            table.replace(conn, directory_id, stored.doc, updated)
            work.group_changed(EventType.group_updated, stored.id, changed)
    return len(holders)
