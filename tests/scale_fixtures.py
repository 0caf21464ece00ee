"""Building large directories quickly, through the same store functions the service uses.

Documents are the service's own (``document()`` of a validated user), varied
per user, so the rows are the ones provisioning writes.
"""

from dataclasses import dataclass

from sqlalchemy import Engine

from factories import new_scope
from scimgate.scim.resources import GROUP_SCHEMA, UserResource
from scimgate.service.provisioning.representation import document
from scimgate.service.provisioning.scope import Scope
from scimgate.store import memberships
from scimgate.store.ids import new_id, utcnow
from scimgate.store.resource_tables import GROUPS, USERS
from scimgate.store.stored_resources import StoredResource
from scimgate.store.transactions import writing

BATCH = 5000


@dataclass(frozen=True)
class LargeDirectory:
    scope: Scope
    user_ids: list[str]
    group_id: str


def build_directory(
    engine: Engine, size: int, base_url: str = "http://scale.example.com"
) -> LargeDirectory:
    """A directory with ``size`` users and one group holding them all."""
    scope = new_scope(engine, f"{size} users", base_url)
    directory = scope.directory
    template = document(
        UserResource(
            user_name="template",
            display_name="template",
            emails=[{"value": "template@scale.example.com", "type": "work", "primary": True}],
            active=True,
        )
    )
    user_ids: list[str] = []
    for start in range(0, size, BATCH):
        with writing(engine) as conn:
            for n in range(start, min(start + BATCH, size)):
                name = f"user{n}@scale.example.com"
                doc = {
                    **template,
                    "userName": name,
                    "displayName": f"User {n}",
                    "emails": [{**template["emails"][0], "value": name}],
                }
                stored = StoredResource.new(new_id(), doc, utcnow())
                USERS.insert(conn, directory.id, stored)
                user_ids.append(stored.id)
    group_doc = {"schemas": [GROUP_SCHEMA], "displayName": "Everyone"}
    group = StoredResource.new(new_id(), group_doc, utcnow())
    with writing(engine) as conn:
        GROUPS.insert(conn, directory.id, group)
        for start in range(0, size, BATCH):
            memberships.add(
                conn,
                directory.id,
                group.id,
                [
                    memberships.NewMember(user_id, "User")
                    for user_id in user_ids[start : start + BATCH]
                ],
            )
    return LargeDirectory(scope, user_ids, group.id)
