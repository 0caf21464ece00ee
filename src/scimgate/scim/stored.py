"""The document stored for a resource: what a read returns, without the server-owned parts.

This is the one definition of a stored document's shape for the ``scim`` layer;
the canonical-body reader (:mod:`scimgate.scim.canonical_bodies`) is held to it
by tests.
"""

from typing import Any

from scim2_models import Context, Group, Resource, User

from scimgate.scim.values import settled_group, settled_user

SERVER_OWNED = ("id", "meta", "groups", "members")
"""Keys that are never part of a stored document: kept in columns, or derived from rows."""


def stored_document(resource: Resource[Any]) -> dict[str, Any]:
    """The document to store for a resource, checked and settled (:mod:`scimgate.scim.values`).

    Dumping in the response context drops what is never returned (``password``).
    """
    dumped = resource.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    doc = {key: value for key, value in dumped.items() if key not in SERVER_OWNED}
    if isinstance(resource, User):
        return settled_user(doc)
    if isinstance(resource, Group):
        return settled_group(doc)
    return doc
