"""What real identity providers send that the strict RFC reading would refuse, made acceptable.

Two parts. The policy hands scim2-models the tolerances it implements itself:
Microsoft Entra's member removal with a ``value`` list, and ``Add``/``Replace``
on a filtered path (``addresses[type eq "work"].locality``) that creates the
entry when the user has none. The adapters rewrite the shapes no policy covers,
before validation, into the RFC form: ``manager`` sent as a plain id (Entra),
a ``manager`` without ``$ref``, and vendor schema URNs that carry nothing to
store (Entra's ADSCIM group schema). They read a body whose attribute names
``scim.attribute_names`` has made canonical, so one spelling is all they look
for. Everything else an IdP sends that the RFC allows (case-insensitive ops,
string booleans, explicit nulls, read-only attributes in a request) the models
already accept.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError
from scim2_models import (
    EnterpriseUser,
    MutabilityException,
    NoTargetException,
    PatchOp,
    Resource,
    SCIMException,
    ScimPolicy,
)

from scimgate.scim.errors import from_validation_error
from scimgate.scim.patch_targets import NO_TARGET_HINT, refuses_some, runs
from scimgate.scim.resources import ENTERPRISE_SCHEMA, USER_SCHEMA

SERVICE_POLICY = ScimPolicy(
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)


STRICT_TARGETS = SERVICE_POLICY.model_copy(
    update={"unmatched_path_filter": ScimPolicy.UnmatchedPathFilter.forbid}
)
"""The service's policy for operations whose unmatched filter is ``noTarget`` (patch_targets)."""


def apply_patch(patch: PatchOp[Any], resource: Resource[Any]) -> None:
    """Apply a PATCH under the service's policy.

    Only the operations :func:`may_create_entry` allows create the entry an
    unmatched path filter describes. A value that does not fit its attribute is
    reported with SCIM attribute names (``userName``), not the models' Python names.
    On an error, ``resource`` may hold the operations before the failing one:
    the use case that called raises, and its transaction stores none of them.
    """
    parts = list(runs(patch.operations or []))
    try:
        for creating, operations in parts:
            part = patch if len(parts) == 1 else patch.model_copy(update={"operations": operations})
            part.patch(resource, scim_policy=SERVICE_POLICY if creating else STRICT_TARGETS)
    except SCIMException as exc:
        if isinstance(exc, NoTargetException) and refuses_some(patch.operations or []):
            raise NoTargetException(detail=f"{exc.detail}. {NO_TARGET_HINT}") from None
        if isinstance(exc.__cause__, ValidationError):
            raise from_validation_error(exc.__cause__, "PATCH value") from None
        raise


_BARE_VALUE = re.compile(
    r'(?P<quoted>"(?:[^"\\]|\\.)*")'  # a quoted value, passed over whatever it holds
    r"|(?P<head>\b(?:eq|ne|co|sw|ew|gt|ge|lt|le)\s+)(?P<value>[^\s\"()\[\]]+)",
    re.IGNORECASE,
)
_LITERALS = re.compile(r"^(?:true|false|null|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)$")


def quote_bare_values(scim_filter: str) -> str | None:
    """The filter with unquoted string values quoted, or None when none are bare.

    Microsoft documents ``filter=externalId eq jyoung``: the value is a string
    the grammar wants quoted. ``true``, ``false``, ``null`` and numbers stay as
    they are. Only tried on a filter that does not parse as written.
    """

    def quoted(match: re.Match[str]) -> str:
        value = match["value"]
        if value is None or _LITERALS.match(value):
            return match[0]
        return f'{match["head"]}"{value}"'

    rewritten = _BARE_VALUE.sub(quoted, scim_filter)
    return rewritten if rewritten != scim_filter else None


IGNORED_SCHEMAS = frozenset(
    {"http://schemas.microsoft.com/2006/11/resourcemanagement/adscim/2.0/group"}
)
"""Schema URNs some IdPs list that describe no attribute: accepted and left out."""

_MANAGER_PATHS = frozenset({"manager", f"{ENTERPRISE_SCHEMA}:manager".lower()})


def tolerate_resource(payload: dict[str, Any], users_url: str) -> dict[str, Any]:
    """A creation or replacement body, its keys already canonical, in RFC form."""
    adapted = dict(payload)
    schemas = adapted.get("schemas")
    if isinstance(schemas, list):
        adapted["schemas"] = [s for s in schemas if str(s).lower() not in IGNORED_SCHEMAS]
    extension = adapted.get(ENTERPRISE_SCHEMA)
    if isinstance(extension, dict) and "manager" in extension:
        adapted[ENTERPRISE_SCHEMA] = {
            **extension,
            "manager": _manager(extension["manager"], users_url),
        }
    return adapted


def tolerate_patch(payload: dict[str, Any], users_url: str) -> dict[str, Any]:
    """A PATCH body, its keys already canonical, in RFC form: ``manager`` values made complete."""
    operations = payload.get("Operations")
    if not isinstance(operations, list):
        return payload
    return {**payload, "Operations": [_operation(op, users_url) for op in operations]}


def _operation(operation: Any, users_url: str) -> Any:
    if not isinstance(operation, dict):
        return operation
    path, value = operation.get("path"), operation.get("value")
    if isinstance(path, str) and path.lower() in _MANAGER_PATHS:
        return {**operation, "value": _manager(value, users_url)}
    if isinstance(path, str) and path.lower() == ENTERPRISE_SCHEMA.lower():
        extension = tolerate_resource({ENTERPRISE_SCHEMA: value}, users_url)
        return {**operation, "value": extension[ENTERPRISE_SCHEMA]}
    if isinstance(path, str) and _names_groups(path):
        raise MutabilityException(
            detail="A user's 'groups' is read-only: membership changes through the group, "
            "with PATCH /Groups/{id} on 'members'. Map group membership to groups in the IdP"
        )
    if path is None and isinstance(value, dict):
        return {**operation, "value": _no_path_value(value, users_url)}
    return operation


def _names_groups(path: str) -> bool:
    """Whether a path names a user's ``groups``, with or without the core schema's URN."""
    return path.split("[")[0].lower() in ("groups", f"{USER_SCHEMA}:groups".lower())


_ECHOED_READ_ONLY = frozenset({"groups", "meta"})
"""Read-only attributes a client may copy into a no-path value from a user it read."""


def _no_path_value(value: dict[str, Any], users_url: str) -> dict[str, Any]:
    """A no-path value, whose enterprise attributes are all in the extension's object.

    Read-only attributes echoed from a read (``groups``, ``meta``) are left out:
    a PATCH that only repeats them changes nothing, as a PUT that does.
    """
    adapted = {key: item for key, item in value.items() if key not in _ECHOED_READ_ONLY}
    return tolerate_resource(adapted, users_url)


def _manager(value: Any, users_url: str) -> Any:
    """``manager`` as the RFC has it: ``{"value": id, "$ref": uri}``.

    Entra sends the id alone, as a string, and others leave ``$ref`` out; the
    reference is the manager's location in the same directory. An empty id
    means no manager. OneLogin names the id ``managerId``, as SCIM 1.1 did, and
    sends a read-only ``displayName`` along, which is dropped.
    """
    if isinstance(value, str):
        return {"value": value, "$ref": f"{users_url}/{value}"} if value else None
    if not isinstance(value, dict):
        return value
    # displayName is read-only (the server's to fill); OneLogin sends it anyway,
    # and its documented template still names the id ``managerId`` (SCIM 1.1).
    manager = {
        key: item for key, item in value.items() if key.lower() not in ("displayname", "managerid")
    }
    manager_id = next((item for key, item in value.items() if key.lower() == "managerid"), None)
    if "value" not in manager and manager_id is not None:
        if not manager_id:
            return None
        manager["value"] = manager_id
    if manager.get("value") and not _points_at(manager.get("$ref"), manager["value"]):
        manager["$ref"] = f"{users_url}/{manager['value']}"
    return manager


def _points_at(reference: Any, manager_id: str) -> bool:
    """Whether a manager's ``$ref`` is the location of the user ``manager_id`` names."""
    return isinstance(reference, str) and reference.endswith(f"/{manager_id}")


def settle_manager(user: Resource[Any], users_url: str) -> None:
    """Point a user's ``manager.$ref`` at the manager its ``value`` names, after a PATCH.

    A PATCH may change the id alone (path ``…:manager.value``, or a value
    without ``$ref`` written over a manager that had one); the reference left
    behind would name the previous manager.
    """
    if EnterpriseUser not in type(user).get_extension_models().values():
        return
    enterprise = user[EnterpriseUser]
    manager = enterprise.manager if enterprise is not None else None
    if manager is not None and manager.value and not _points_at(manager.ref, manager.value):
        manager.ref = f"{users_url}/{manager.value}"
