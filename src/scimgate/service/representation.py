"""Building SCIM resources from stored rows, and stored documents from SCIM resources."""

from typing import Any

from scim2_models import Context, Group, Resource

from scimgate.scim.etag import etag
from scimgate.service.scope import Scope
from scimgate.store.memberships import Member, Membership
from scimgate.store.resources import StoredResource

SERVER_OWNED = ("id", "meta", "groups", "members")
"""Keys that are never part of a stored document: kept in columns, or derived from rows."""


def document(resource: Resource[Any]) -> dict[str, Any]:
    """The document to store for a resource: what a read returns, without server-owned parts.

    Dumping in the response context drops what is never returned (``password``).
    """
    dumped = resource.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    return {key: value for key, value in dumped.items() if key not in SERVER_OWNED}


def _meta(scope: Scope, stored: StoredResource, resource_type: str) -> dict[str, Any]:
    return {
        "resourceType": resource_type,
        "created": stored.created_at.isoformat(),
        "lastModified": stored.modified_at.isoformat(),
        "version": etag(stored.version),
        "location": scope.location(f"{resource_type}s", stored.id),
    }


def user_resource(scope: Scope, stored: StoredResource, memberships: list[Membership]) -> Any:
    payload = dict(stored.doc, id=stored.id, meta=_meta(scope, stored, "User"))
    if memberships:
        payload["groups"] = [
            {
                "value": membership.group_id,
                "display": membership.display,
                "type": "direct",
                "$ref": scope.location("Groups", membership.group_id),
            }
            for membership in memberships
        ]
    return scope.models.user.model_validate(payload)


def group_resource(scope: Scope, stored: StoredResource, members: list[Member] | None) -> Group:
    """A group; ``members`` is None when the caller asked for a representation without them."""
    payload = dict(stored.doc, id=stored.id, meta=_meta(scope, stored, "Group"))
    if members:
        payload["members"] = [
            {
                "value": member.id,
                "display": member.display,
                "type": member.type,
                "$ref": scope.location(f"{member.type}s", member.id),
            }
            for member in members
        ]
    group: Group = scope.models.group.model_validate(payload)
    return group
