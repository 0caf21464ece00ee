"""Reading a creation body (POST /Users, POST /Groups) into what is stored for it.

One call turns the request's bytes into the stored document, and a group's
listed members, or raises the SCIM error the request earns. A body in the
canonical form identity providers send is read in one pass
(:mod:`scimgate.scim.canonical_bodies`); any other takes the models' way:
:func:`~scimgate.scim.requests.decode_json`, then
:func:`~scimgate.scim.requests.read_resource`, then
:func:`~scimgate.scim.stored.stored_document`. Both give the same document
and the same error for the same body, checked in that order (the models'
refusal, then the settling rules of :mod:`scimgate.scim.values`, then the
members' own).
"""

from typing import Any, Literal

from scim2_models import Context

from scimgate.records import frozen
from scimgate.scim.canonical_bodies import canonical_group, canonical_user
from scimgate.scim.extensions import ResourceModels
from scimgate.scim.group_patch import ListedMember, listed_members
from scimgate.scim.requests import decode_json, read_resource
from scimgate.scim.resources import GroupResource, UserResource
from scimgate.scim.stored import stored_document
from scimgate.scim.values import settled_group, settled_user


@frozen
class Creation:
    """What a creation request stores."""

    document: dict[str, Any]
    """The stored document: no ``id``, ``meta``, ``groups`` or ``members``."""

    members: tuple[ListedMember, ...] = ()
    """A group's initial members, each once; a user has none."""


def read_creation(
    models: ResourceModels, resource_type: Literal["User", "Group"], body: bytes, users_url: str
) -> Creation:
    """What a POST of ``body`` to ``/Users`` or ``/Groups`` stores in a directory with these models.

    ``users_url`` is where the directory's users live, for references IdPs leave out.
    """
    if resource_type == "User":
        canonical = canonical_user(body) if models.user is UserResource else None
        if canonical is not None:
            return Creation(settled_user(canonical))
        user = read_resource(
            models.user, decode_json(body), Context.RESOURCE_CREATION_REQUEST, "user", users_url
        )
        return Creation(stored_document(user))
    read = canonical_group(body) if models.group is GroupResource else None
    if read is not None:
        doc, members = read
        return Creation(settled_group(doc), members)
    group = read_resource(
        models.group, decode_json(body), Context.RESOURCE_CREATION_REQUEST, "group", users_url
    )
    doc = stored_document(group)
    return Creation(doc, listed_members(group.members or []))
