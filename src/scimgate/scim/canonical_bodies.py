"""Creation and replacement bodies in the form identity providers send them, read
without the models.

A POST body that holds only the attributes Microsoft Entra ID, Okta and their
peers write, each under the name a read returns it with and with a value of
its schema's JSON type, is decoded by msgspec into the structures below, which
check all of that in one pass. A user's PUT body may also echo what a read
returned (Okta sends the user it read, changed): its ``id``, its whole ``meta``
and its ``groups``, all read-only, checked as the models check them and not
kept. What the models would then do to such a body is a short list of rules,
applied here to build the document they would dump:

- a null is an absent attribute, and a complex value or list entry left with
  nothing, or a list left empty, is dropped (RFC 7643 §2.5);
- ``type`` is spelled as its canonical value when it is one, whatever its case;
- an e-mail ``value`` goes through the very validator the models use;
- ``password`` (never returned), ``meta`` and ``groups`` (read-only) are not
  kept; ``schemas`` is the core schema, and the enterprise one when the
  enterprise extension holds something.

Any other body answers None, and takes the models' way
(:func:`scimgate.scim.requests.read_resource`): a key spelled otherwise or
qualified with a URN, a value of another type (``"True"``, a number), a
manager, a photo, a second primary entry, an escaped NUL, text that is not
JSON. That way is the reference; property tests hold both ways to the same
document for the same body. Only the built-in models are read here: a
directory with its own extension schemas always takes the models' way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec
from pydantic import TypeAdapter, ValidationError
from scim2_models import Address, Email, Im, PhoneNumber

from scimgate.scim.email_address import EmailText
from scimgate.scim.group_patch import ListedMember
from scimgate.scim.resources import ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA
from scimgate.scim.tolerance import IGNORED_SCHEMAS

ESCAPED_NUL = b"\\u0000"
"""The one way a body msgspec decodes can hold unstorable text (scim.text): raw NUL
bytes, lone surrogates and invalid UTF-8 are refused by the decoder itself."""


class _Unusual(Exception):
    """The body is not one this module reads: the models decide."""


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


class _Object(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, rename=_camel):
    """A JSON object whose keys are all declared here, spelled as a read spells them.

    Fields are declared in the order the models dump them; a null one is left out.
    """


class _Name(_Object):
    formatted: str | None = None
    family_name: str | None = None
    given_name: str | None = None
    middle_name: str | None = None
    honorific_prefix: str | None = None
    honorific_suffix: str | None = None


class _Entry(_Object):
    """An entry of ``emails``, ``phoneNumbers``, ``ims``, ``entitlements`` or ``roles``."""

    value: str | None = None
    display: str | None = None
    type: str | None = None
    primary: bool | None = None


class _Address(_Object):
    formatted: str | None = None
    street_address: str | None = None
    locality: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None
    type: str | None = None
    primary: bool | None = None


class _Meta(_Object):
    """Read-only, and ignored in a request (Entra sends ``{"resourceType": "User"}``)."""

    resource_type: str | None = None


class _EchoedMeta(_Object):
    """A replacement's ``meta``, as a read returned it: read-only, checked, not kept."""

    resource_type: str | None = None
    created: str | None = None
    last_modified: str | None = None
    location: str | None = None
    version: str | None = None


class _EchoedGroup(_Object, rename={"ref": "$ref"}):
    """An entry of a replacement's ``groups``, as a read returned it: read-only, not kept."""

    value: str | None = None
    ref: str | None = None
    display: str | None = None
    type: str | None = None


class _Enterprise(_Object):
    employee_number: str | None = None
    cost_center: str | None = None
    organization: str | None = None
    division: str | None = None
    department: str | None = None
    manager: None = None
    """Only null: a manager's ``$ref`` is filled in by the tolerance the models' way runs."""


def _user_key(name: str) -> str:
    return ENTERPRISE_SCHEMA if name == "enterprise" else _camel(name)


class _User(_Object, rename=_user_key):
    schemas: list[str] | None = None
    external_id: str | None = None
    meta: _Meta | None = None
    user_name: str | None = None
    name: _Name | None = None
    display_name: str | None = None
    nick_name: str | None = None
    title: str | None = None
    user_type: str | None = None
    preferred_language: str | None = None
    locale: str | None = None
    timezone: str | None = None
    active: bool | None = None
    password: str | None = None
    emails: list[_Entry] | None = None
    phone_numbers: list[_Entry] | None = None
    ims: list[_Entry] | None = None
    addresses: list[_Address] | None = None
    groups: list[msgspec.Raw] | None = None
    entitlements: list[_Entry] | None = None
    roles: list[_Entry] | None = None
    enterprise: _Enterprise | None = None


class _Replacement(_User):
    """A user's PUT body: a creation body, or a read's answer changed and sent back."""

    id: str | None = None
    meta: _EchoedMeta | None = None  # type: ignore[assignment]
    groups: list[_EchoedGroup] | None = None  # type: ignore[assignment]


class _Member(_Object, rename={"ref": "$ref"}):
    value: str | None = None
    display: str | None = None
    ref: None = None
    """Only null, as Entra sends it."""


class _Group(_Object):
    schemas: list[str] | None = None
    external_id: str | None = None
    meta: _Meta | None = None
    display_name: str | None = None
    members: list[_Member] | None = None


_USER = msgspec.json.Decoder(_User)
_REPLACEMENT = msgspec.json.Decoder(_Replacement)
_GROUP = msgspec.json.Decoder(_Group)

_LEFT_OUT = ("schemas", "id", "meta", "password", "groups")
"""Keys of a user body that are checked but not stored."""

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})")
"""A time as scimgate writes them, and as the models read them when it is a real one."""


def _canonical_types(kind: Any) -> dict[str, str]:
    """A case-insensitive ``type`` enumeration's values, keyed by their lower case."""
    return {member.value.lower(): member.value for member in kind}


_TYPES: dict[str, dict[str, str]] = {
    "emails": _canonical_types(Email.Type),
    "phoneNumbers": _canonical_types(PhoneNumber.Type),
    "ims": _canonical_types(Im.Type),
    "addresses": _canonical_types(Address.Type),
    "entitlements": {},
    "roles": {},
}
"""The multi-valued attributes read here, and the canonical values of their ``type``."""

_EMAIL_TEXT: TypeAdapter[str] = TypeAdapter(EmailText)

_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9._+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+")
"""Text the e-mail validator leaves as it is: an ASCII address whose domain is in
lower case and has no IDNA label, or text that is no address (kept as sent)."""


def canonical_user(body: bytes) -> dict[str, Any] | None:
    """The user document the models would dump for a canonical creation body, else None.

    The document is not settled yet (:func:`scimgate.scim.values.settled_user`).
    """
    return _canonical_user(body, _USER)


def canonical_replacement(body: bytes) -> dict[str, Any] | None:
    """The user document the models would dump for a canonical replacement body (PUT),
    before the stored user's read-only values are put back, else None.

    The document is not settled yet (:func:`scimgate.scim.values.settled_user`).
    """
    return _canonical_user(body, _REPLACEMENT)


def _canonical_user(body: bytes, decoder: msgspec.json.Decoder[Any]) -> dict[str, Any] | None:
    try:
        if ESCAPED_NUL in body:
            raise _Unusual
        user = decoder.decode(body)
        if user.user_name is None:
            raise _Unusual
        if isinstance(user, _Replacement):
            _check_echoed_meta(user.meta)
        elif user.groups:
            raise _Unusual
        _check_schemas(user.schemas, USER_SCHEMA, lambda schema: schema == ENTERPRISE_SCHEMA)
        attributes: dict[str, Any] = msgspec.to_builtins(user)
        for key in _LEFT_OUT:
            attributes.pop(key, None)
        for key, item in list(attributes.items()):
            if isinstance(item, list):
                item = attributes[key] = _entries(key, item)
            if not item and isinstance(item, list | dict):
                del attributes[key]
    except (msgspec.DecodeError, _Unusual):
        return None
    schemas = [USER_SCHEMA, ENTERPRISE_SCHEMA] if ENTERPRISE_SCHEMA in attributes else [USER_SCHEMA]
    return {"schemas": schemas, **attributes}


def _check_echoed_meta(meta: _EchoedMeta | None) -> None:
    """The times of an echoed ``meta`` are real times in the form scimgate writes them."""
    for text in (meta.created, meta.last_modified) if meta is not None else ():
        if text is not None:
            if not _RFC3339.fullmatch(text):
                raise _Unusual
            try:
                datetime.fromisoformat(text)
            except ValueError:
                raise _Unusual from None


def _entries(attribute: str, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A multi-valued attribute's entries as the models dump them: empty ones left out,
    ``type`` in its canonical spelling, e-mail values as the models keep them."""
    if sum(1 for entry in entries if entry.get("primary") is True) > 1:
        raise _Unusual  # RFC 7643 §2.4: at most one is primary
    types = _TYPES[attribute]
    for entry in entries:
        kind = entry.get("type")
        if kind is not None and types:
            entry["type"] = types.get(kind.lower(), kind)
        if attribute == "emails" and "value" in entry:
            entry["value"] = _email_value(entry["value"])
    return [entry for entry in entries if entry]


def _email_value(value: str) -> str:
    """An e-mail value as the models keep it (:mod:`scimgate.scim.email_address`)."""
    if _PLAIN_ADDRESS.fullmatch(value) and "xn--" not in value:
        return value
    try:
        return _EMAIL_TEXT.validate_python(value)
    except ValidationError:
        raise _Unusual from None


def canonical_group(body: bytes) -> tuple[dict[str, Any], tuple[ListedMember, ...]] | None:
    """The group document the models would dump for a canonical creation body, and its
    members as :func:`scimgate.scim.group_patch.listed_members` lists them; else None.

    The document is not settled yet (:func:`scimgate.scim.values.settled_group`).
    """
    try:
        if ESCAPED_NUL in body:
            raise _Unusual
        group = _GROUP.decode(body)
        if group.display_name is None:
            raise _Unusual
        _check_schemas(
            group.schemas, GROUP_SCHEMA, lambda schema: schema.lower() in IGNORED_SCHEMAS
        )
    except (msgspec.DecodeError, _Unusual):
        return None
    listed: dict[str, str | None] = {}
    for member in group.members or []:
        if not member.value:
            return None
        listed[member.value] = member.display
    doc: dict[str, Any] = {"schemas": [GROUP_SCHEMA]}
    if group.external_id is not None:
        doc["externalId"] = group.external_id
    doc["displayName"] = group.display_name
    return doc, tuple(ListedMember(value, display) for value, display in listed.items())


def _check_schemas(
    schemas: list[str] | None, core: str, also_allowed: Callable[[str], bool]
) -> None:
    """``schemas`` lists the core schema, and nothing but schemas the body may carry."""
    if not schemas or core not in schemas:
        raise _Unusual
    if not all(schema == core or also_allowed(schema) for schema in schemas):
        raise _Unusual
