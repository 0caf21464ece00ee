"""The one shape an app reads a directory in, whichever IdP dialect filled it.

SCIM lets each IdP put the same fact in different places: the work e-mail may
be primary or merely typed "work", a name may come whole (``displayName``) or in
parts, the department lives in the enterprise extension. These functions read
a stored SCIM resource and answer with fixed fields, keeping the raw document
next to them for anything the fields leave out.
"""

from dataclasses import field
from enum import StrEnum
from typing import Any

from scim2_models import Context, Group

from scimgate.records import frozen
from scimgate.scim.attribute_mapping import custom_attributes
from scimgate.scim.email_address import is_address
from scimgate.scim.resources import ENTERPRISE_SCHEMA


class UserState(StrEnum):
    active = "active"
    inactive = "inactive"
    """Deactivated by the IdP, or outside the directory's assignment group."""

    deleted = "deleted"
    """Deleted by the IdP: only events and tombstones show a user in this state."""


@frozen
class GroupRef:
    id: str
    name: str


@frozen
class DirectoryUser:
    id: str
    """scimgate's id (the SCIM ``id``)."""

    idp_id: str | None
    """The IdP's own id for the user (SCIM ``externalId``)."""

    username: str
    primary_email: str | None
    emails: list[str]
    undeliverable_emails: list[str]
    """Those of ``emails`` that are not addresses (a bare name): kept, but not to write to."""

    first_name: str | None
    last_name: str | None
    display_name: str | None
    job_title: str | None
    department: str | None
    manager_id: str | None
    state: UserState
    groups: list[GroupRef]
    roles: list[str]
    """Roles the directory's role mapping gives the user, in priority order."""

    custom_attributes: dict[str, Any]
    """Named attributes read through the directory's attribute mappings."""

    raw: dict[str, Any] = field(repr=False)
    """The SCIM document as the IdP left it."""


@frozen
class DirectoryGroup:
    id: str
    idp_id: str | None
    name: str
    raw: dict[str, Any] = field(repr=False)


def normalize_user(
    user: Any, mappings: dict[str, str], roles: list[str], *, assigned: bool = True
) -> DirectoryUser:
    """The normalized view of a SCIM user (``User[EnterpriseUser]``), custom attributes mapped.

    ``assigned`` is False for a user outside the directory's assignment group,
    who is inactive whatever ``active`` says.
    """
    raw = user.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    emails = [email for email in user.emails or [] if email.value]
    primary = next((e for e in emails if e.primary), None) or next(
        (e for e in emails if str(e.type or "").lower() == "work"), None
    )
    enterprise = raw.get(ENTERPRISE_SCHEMA, {})
    name = user.name
    given = _text(name.given_name) if name else None
    family = _text(name.family_name) if name else None
    display = _text(user.display_name) or (_text(name.formatted) if name else None)
    if display is None and (given or family):
        display = " ".join(part for part in (given, family) if part)
    return DirectoryUser(
        id=str(user.id),
        idp_id=user.external_id,
        username=user.user_name,
        primary_email=str(primary.value) if primary else (str(emails[0].value) if emails else None),
        emails=[str(email.value) for email in emails],
        undeliverable_emails=[str(e.value) for e in emails if not is_address(str(e.value))],
        first_name=given,
        last_name=family,
        display_name=display,
        job_title=_text(user.title),
        department=_text(enterprise.get("department")),
        manager_id=(enterprise.get("manager") or {}).get("value"),
        state=UserState.active if assigned and user.active is not False else UserState.inactive,
        groups=[GroupRef(str(g.value), str(g.display or "")) for g in user.groups or []],
        roles=roles,
        custom_attributes=custom_attributes(user, mappings),
        raw=raw,
    )


def normalize_user_dump(
    raw: dict[str, Any], custom: dict[str, Any], roles: list[str], *, assigned: bool = True
) -> DirectoryUser:
    """What :func:`normalize_user` gives, from the user's dump instead of its model.

    ``raw`` is what ``user.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)``
    returns (a stored document with its ``id``, ``meta`` and ``groups``, in the
    models' key order), ``custom`` its mapped attributes: no model is built.
    """
    emails = [email for email in raw.get("emails") or [] if email.get("value")]
    primary = next((e for e in emails if e.get("primary")), None) or next(
        (e for e in emails if str(e.get("type") or "").lower() == "work"), None
    )
    enterprise = raw.get(ENTERPRISE_SCHEMA, {})
    name = raw.get("name")
    given = _text(name.get("givenName")) if name else None
    family = _text(name.get("familyName")) if name else None
    display = _text(raw.get("displayName")) or (_text(name.get("formatted")) if name else None)
    if display is None and (given or family):
        display = " ".join(part for part in (given, family) if part)
    values = [str(email["value"]) for email in emails]
    return DirectoryUser(
        id=str(raw["id"]),
        idp_id=raw.get("externalId"),
        username=raw["userName"],
        primary_email=str(primary["value"]) if primary else (values[0] if values else None),
        emails=values,
        undeliverable_emails=[value for value in values if not is_address(value)],
        first_name=given,
        last_name=family,
        display_name=display,
        job_title=_text(raw.get("title")),
        department=_text(enterprise.get("department")),
        manager_id=(enterprise.get("manager") or {}).get("value"),
        state=UserState.active
        if assigned and raw.get("active") is not False
        else UserState.inactive,
        groups=[
            GroupRef(str(g["value"]), str(g.get("display") or "")) for g in raw.get("groups") or []
        ],
        roles=roles,
        custom_attributes=custom,
        raw=raw,
    )


def _text(value: str | None) -> str | None:
    """A text value, or None for a blank one: OneLogin sends empty placeholders as ""."""
    return value if value and value.strip() else None


def normalize_group(group: Group) -> DirectoryGroup:
    raw = group.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    raw.pop("members", None)
    return DirectoryGroup(
        id=str(group.id), idp_id=group.external_id, name=str(group.display_name), raw=raw
    )


def normalize_group_dump(raw: dict[str, Any]) -> DirectoryGroup:
    """What :func:`normalize_group` gives, from the group's dump without ``members``."""
    return DirectoryGroup(
        id=str(raw["id"]), idp_id=raw.get("externalId"), name=str(raw["displayName"]), raw=raw
    )
