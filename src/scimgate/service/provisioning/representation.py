"""Building SCIM resources from stored rows, and stored documents from SCIM resources."""

from functools import lru_cache
from typing import Any

from scim2_models import Context, Group

from scimgate.scim.documents import ScimDocument
from scimgate.scim.etag import etag
from scimgate.scim.instants import rfc3339
from scimgate.scim.stored import stored_document
from scimgate.service.provisioning.scope import Site
from scimgate.store.membership_lists import Member, Membership
from scimgate.store.stored_resources import StoredResource

document = stored_document
"""The document to store for a resource (every write ends here, whichever request wrote it):
see :func:`scimgate.scim.stored.stored_document`."""


def _meta(site: Site, stored: StoredResource, resource_type: str) -> dict[str, Any]:
    return {
        "resourceType": resource_type,
        "created": rfc3339(stored.created_at),
        "lastModified": rfc3339(stored.modified_at),
        "version": etag(stored.version),
        "location": site.location(f"{resource_type}s", stored.id),
    }


def user_document(
    site: Site, stored: StoredResource, memberships: list[Membership]
) -> ScimDocument:
    """A user as a read returns it."""
    content = _user_content(site, stored, memberships)
    return ScimDocument(content, site.models.user, site.models.served_as_stored)


def user_resource(site: Site, stored: StoredResource, memberships: list[Membership]) -> Any:
    """A user as its model, to change it or to derive from it."""
    return site.models.user.model_validate(_user_content(site, stored, memberships))


def user_dump(site: Site, stored: StoredResource, memberships: list[Membership]) -> dict[str, Any]:
    """What :func:`user_resource` would dump in the response context, without building it.

    A stored document is the models' own dump (see :func:`document`), so where
    the directory's documents are served as stored it only needs its server-owned
    parts put back where the models write them; elsewhere the model is built.
    """
    if not site.models.served_as_stored:
        dumped: dict[str, Any] = user_resource(site, stored, memberships).model_dump(
            scim_ctx=Context.RESOURCE_QUERY_RESPONSE
        )
        return dumped
    content = _user_content(site, stored, memberships, dumped=True)
    return _in_model_order(content, site.models.user)


def group_dump(site: Site, stored: StoredResource) -> dict[str, Any]:
    """What :func:`group_resource` without members would dump in the response context."""
    if not site.models.served_as_stored:
        dumped: dict[str, Any] = group_resource(site, stored, None).model_dump(
            scim_ctx=Context.RESOURCE_QUERY_RESPONSE
        )
        return dumped
    content = _group_content(site, stored, None, dumped=True)
    return _in_model_order(content, site.models.group)


def _dumped_meta(site: Site, stored: StoredResource, resource_type: str) -> dict[str, Any]:
    return {
        "resourceType": resource_type,
        "created": rfc3339(stored.created_at),
        "lastModified": rfc3339(stored.modified_at),
        "location": site.location(f"{resource_type}s", stored.id),
        "version": etag(stored.version),
    }


def _dumped_reference(value: str, display: str | None, kind: str, ref: str) -> dict[str, str]:
    reference = {"value": value, "$ref": ref, "display": display, "type": kind}
    return {key: item for key, item in reference.items() if item is not None}


def _in_model_order(content: dict[str, Any], model: Any) -> dict[str, Any]:
    """The content's keys in the order the model dumps its fields."""
    ordered = {key: content[key] for key in _field_order(model) if key in content}
    if len(ordered) != len(content):
        dumped: dict[str, Any] = model.model_validate(content).model_dump(
            scim_ctx=Context.RESOURCE_QUERY_RESPONSE
        )
        return dumped
    return ordered


@lru_cache(maxsize=256)
def _field_order(model: Any) -> tuple[str, ...]:
    """The model's keys in dump order, as plain ``str``: an extension's is its schema's
    ``URN``, a subclass that orjson refuses as a key, which sent every event of a user
    with an extension through pydantic's encoding (``events.encoding``)."""
    return tuple(str(info.serialization_alias or name) for name, info in model.model_fields.items())


def group_document(
    site: Site, stored: StoredResource, members: list[Member] | None
) -> ScimDocument:
    """A group as a read returns it; ``members`` is None when the read leaves them out."""
    content = _group_content(site, stored, members)
    return ScimDocument(content, site.models.group, site.models.served_as_stored)


def group_resource(site: Site, stored: StoredResource, members: list[Member] | None) -> Group:
    """A group as its model; ``members`` is None when the caller needs it without them."""
    group: Group = site.models.group.model_validate(_group_content(site, stored, members))
    return group


def _user_content(
    site: Site, stored: StoredResource, memberships: list[Membership], dumped: bool = False
) -> dict[str, Any]:
    """The user's content; ``dumped`` writes its parts' keys in the models' dump order."""
    meta, reference = (_dumped_meta, _dumped_reference) if dumped else (_meta, _reference)
    content = dict(stored.doc, id=stored.id, meta=meta(site, stored, "User"))
    if memberships:
        content["groups"] = [
            reference(
                membership.group_id,
                membership.display,
                "direct",
                site.location("Groups", membership.group_id),
            )
            for membership in memberships
        ]
    return content


def _group_content(
    site: Site, stored: StoredResource, members: list[Member] | None, dumped: bool = False
) -> dict[str, Any]:
    """The group's content; ``dumped`` writes its parts' keys in the models' dump order."""
    meta, reference = (_dumped_meta, _dumped_reference) if dumped else (_meta, _reference)
    content = dict(stored.doc, id=stored.id, meta=meta(site, stored, "Group"))
    if members:
        content["members"] = [
            reference(
                member.id, member.display, member.type, site.location(f"{member.type}s", member.id)
            )
            for member in members
        ]
    return content


def _reference(value: str, display: str | None, kind: str, ref: str) -> dict[str, str]:
    """A group or member reference, without the keys that have no value (as the models write it)."""
    reference = {"value": value, "display": display, "type": kind, "$ref": ref}
    return {key: item for key, item in reference.items() if item is not None}
