"""A Google Workspace directory's users and groups as the SCIM resources an IdP would push.

The Admin SDK Directory API describes a person in its own shape (``primaryEmail``,
``suspended``, ``organizations[]``, ``relations[]``...). A pulled directory stores
what Microsoft Entra ID would have pushed for the same person: the same core and
enterprise attributes, the e-mail as the ``userName`` and as the one primary work
address, the Google id as ``externalId``, and the manager as the manager's id in
the directory. So the normalized view, the events and the webhooks of a pulled
directory are those of a pushed one.

Suspended and archived people cannot sign in to Google: they are inactive here.
What only Google has (the org unit, the custom schemas' fields) goes into an
extension of its own (``GOOGLE_SCHEMA``), registered with every pulled directory,
which attribute mappings may read (``org_unit`` from ``…:orgUnitPath``, a badge
number from ``…:customFields[field eq "Badge"].value``).
"""

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from scimgate.records import frozen

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
GOOGLE_SCHEMA = "urn:scimgate:params:scim:schemas:extension:googleworkspace:2.0:User"

_TEXT = {"type": "string", "multiValued": False}
GOOGLE_DEFINITION: dict[str, Any] = {
    "id": GOOGLE_SCHEMA,
    "name": "GoogleWorkspaceUser",
    "description": "What Google Workspace holds of a person beyond the enterprise extension",
    "attributes": [
        {**_TEXT, "name": "orgUnitPath", "description": "The organizational unit (/Sales/East)"},
        {
            "name": "customFields",
            "type": "complex",
            "multiValued": True,
            "description": "The fields of the account's custom schemas, one value each",
            "subAttributes": [
                {**_TEXT, "name": "schema"},
                {**_TEXT, "name": "field"},
                {**_TEXT, "name": "value"},
            ],
        },
    ],
}
"""The extension a pulled directory's users carry (RFC 7643 §7 definition)."""

_PHONE_TYPES = {"work": "work", "home": "home", "mobile": "mobile", "work_mobile": "mobile"}
"""Google's phone types that SCIM names (RFC 7643 §4.1.2); faxes, pagers and the rest as
their kind, or ``other``."""


class ScopeKind(StrEnum):
    all = "all"
    """Every user and group of the Google account."""

    org_units = "org_units"
    """The users of chosen organizational units and of the units beneath them."""

    groups = "groups"
    """The direct members of chosen groups, and those groups."""


@frozen
class SyncScope:
    """Which of a Google account's people the app sees; leaving the scope deprovisions."""

    kind: ScopeKind = ScopeKind.all
    values: tuple[str, ...] = ()
    """Org unit paths (``/Sales``) or group e-mail addresses, by ``kind``."""

    def __post_init__(self) -> None:
        if self.kind is ScopeKind.all and self.values:
            raise ValueError("a scope of everyone names no org units or groups")
        if self.kind is not ScopeKind.all and not self.values:
            raise ValueError(f"name at least one of the {self.noun}s to sync")
        for value in self.values:
            if self.kind is ScopeKind.org_units and not value.startswith("/"):
                raise ValueError(
                    f"an org unit is given by its path, starting with '/' (like /Sales), "
                    f"not {value!r}"
                )
            if self.kind is ScopeKind.groups and "@" not in value:
                raise ValueError(
                    f"a group is given by its e-mail address (like team@example.com), not {value!r}"
                )

    @property
    def noun(self) -> str:
        return "org unit" if self.kind is ScopeKind.org_units else "group"

    def holds_org_unit(self, path: str) -> bool:
        """Whether a user in org unit ``path`` is in scope (always, unless scoped by units).

        A unit holds the units beneath it, as Google's own ``orgUnitPath`` query does.
        """
        if self.kind is not ScopeKind.org_units:
            return True
        folded = path.rstrip("/").casefold()
        for unit in self.values:
            root = unit.rstrip("/").casefold()
            if root == "" or folded == root or folded.startswith(root + "/"):
                return True
        return False

    def holds_group(self, email: str) -> bool:
        """Whether a group is synced (always, unless scoped by groups)."""
        if self.kind is not ScopeKind.groups:
            return True
        return email.casefold() in {value.casefold() for value in self.values}


def manager_email(user: Mapping[str, Any]) -> str | None:
    """The address of the user's manager, from ``relations`` (type ``manager``)."""
    for relation in user.get("relations") or ():
        if relation.get("type") == "manager" and relation.get("value"):
            return str(relation["value"])
    return None


def user_document(
    user: Mapping[str, Any], manager_id: str | None, users_url: str
) -> dict[str, Any]:
    """The SCIM user an IdP would push for a Directory API user resource, in the form it is
    stored in (an unchanged person's document equals the stored one).

    ``manager_id`` is the id, in the directory, of the user named by
    :func:`manager_email`, once that user is there; ``users_url`` is where the
    directory's users live, for the manager's reference.
    """
    email = str(user["primaryEmail"])
    name = user.get("name") or {}
    given, family = _text(name.get("givenName")), _text(name.get("familyName"))
    full = _text(name.get("fullName")) or " ".join(p for p in (given, family) if p) or None
    organization = _primary(user.get("organizations"))
    doc: dict[str, Any] = {
        "schemas": [USER_SCHEMA],
        "externalId": str(user["id"]),
        "userName": email,
        "active": not user.get("suspended") and not user.get("archived"),
        "emails": [{"primary": True, "type": "work", "value": email}],
    }
    if full:
        doc["displayName"] = full
    if given or family or full:
        doc["name"] = {
            key: value
            for key, value in (("formatted", full), ("familyName", family), ("givenName", given))
            if value
        }
    if title := _text(organization.get("title")):
        doc["title"] = title
    phones = [
        {"type": _phone_type(str(phone.get("type") or "")), "value": str(phone["value"])}
        for phone in user.get("phones") or ()
        if phone.get("value")
    ]
    if phones:
        doc["phoneNumbers"] = phones
    enterprise: dict[str, Any] = {
        key: value
        for key, value in (
            ("employeeNumber", _employee_number(user.get("externalIds"))),
            ("costCenter", _text(organization.get("costCenter"))),
            ("department", _text(organization.get("department"))),
        )
        if value
    }
    if manager_id:
        enterprise["manager"] = {"value": manager_id, "$ref": f"{users_url}/{manager_id}"}
    if enterprise:
        doc["schemas"].append(ENTERPRISE_SCHEMA)
        doc[ENTERPRISE_SCHEMA] = enterprise
    google = {
        key: value
        for key, value in (
            ("orgUnitPath", _text(user.get("orgUnitPath"))),
            ("customFields", _custom_fields(user.get("customSchemas"))),
        )
        if value
    }
    if google:
        doc["schemas"].append(GOOGLE_SCHEMA)
        doc[GOOGLE_SCHEMA] = google
    return doc


def group_document(group: Mapping[str, Any]) -> dict[str, Any]:
    """The SCIM group an IdP would push for a Directory API group resource (no members)."""
    name = _text(group.get("name")) or str(group["email"])
    return {"schemas": [GROUP_SCHEMA], "externalId": str(group["id"]), "displayName": name}


def _primary(entries: Sequence[Mapping[str, Any]] | None) -> Mapping[str, Any]:
    """The entry marked primary, else the first, else nothing."""
    entries = entries or ()
    return next((e for e in entries if e.get("primary")), entries[0] if entries else {})


def _employee_number(external_ids: Sequence[Mapping[str, Any]] | None) -> str | None:
    for entry in external_ids or ():
        if entry.get("type") == "organization" and entry.get("value"):
            return str(entry["value"])
    return None


def _custom_fields(schemas: Any) -> list[dict[str, str]]:
    """Custom schemas' fields, one entry per value: a multi-valued field's values (each a
    ``{"type", "value"}``) make an entry each."""
    if not isinstance(schemas, Mapping):
        return []
    found = []
    for schema, values in schemas.items():
        for name, value in values.items() if isinstance(values, Mapping) else ():
            for each in value if isinstance(value, list) else [value]:
                text = each.get("value") if isinstance(each, Mapping) else each
                if text is not None and str(text).strip():
                    found.append({"schema": str(schema), "field": str(name), "value": str(text)})
    return found


def _phone_type(google_type: str) -> str:
    if google_type in _PHONE_TYPES:
        return _PHONE_TYPES[google_type]
    for kind in ("fax", "pager"):
        if google_type.endswith(kind):
            return kind
    return "other"


def _text(value: Any) -> str | None:
    return str(value).strip() or None if value is not None else None
