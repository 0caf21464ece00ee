"""Moving a directory's users and groups out and in, as JSON lines (``scimgate export|import``).

An export is one JSON object per line: every user (``"resourceType": "User"``),
then every group with its members (``"resourceType": "Group"``), each with its
SCIM attributes and its id in the exporting directory. An import provisions
them into another directory as an IdP would, through the same use cases and so
with their events: users first, then groups, then memberships, with ids
mapped from the export's to the new directory's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from scim2_models import Context, SCIMException
from sqlalchemy import Engine

from scimgate.scim.limits import Limits
from scimgate.scim.requests import read_patch, read_resource
from scimgate.service.directories import existing_directory
from scimgate.service.errors import Invalid
from scimgate.service.provisioning import groups, users
from scimgate.service.provisioning.every_resource import every_resource
from scimgate.service.provisioning.scope import Scope
from scimgate.store import membership_lists
from scimgate.store.resource_tables import GROUPS, USERS
from scimgate.store.transactions import reading

PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CREATE = Context.RESOURCE_CREATION_REQUEST


def export_directory(engine: Engine, directory_id: str) -> Iterator[dict[str, Any]]:
    """Every user, then every group with its members, in id order, read page by page."""
    with reading(engine) as conn:
        existing_directory(conn, directory_id)
    for stored in every_resource(engine, directory_id, USERS):
        yield {"resourceType": "User", "id": stored.id, **stored.doc}
    for stored in every_resource(engine, directory_id, GROUPS):
        with reading(engine) as conn:
            members = membership_lists.members_of(conn, directory_id, stored.id)
        yield {
            "resourceType": "Group",
            "id": stored.id,
            **stored.doc,
            "members": [{"value": member.id, "type": member.type} for member in members],
        }


@dataclass
class ImportResult:
    users: int = 0
    groups: int = 0
    memberships: int = 0
    refused: list[str] = field(default_factory=list)
    """One line per resource the directory refused, with the reason."""


def import_directory(
    engine: Engine,
    directory_id: str,
    lines: Iterable[dict[str, Any]],
    on_progress: Callable[[], None] = lambda: None,
) -> ImportResult:
    """Provision an export into a directory; a refused resource is reported, not fatal."""
    with reading(engine) as conn:
        directory = existing_directory(conn, directory_id)
    scope = Scope(engine, directory, f"/scim/v2/{directory_id}", Limits())
    result = ImportResult()
    new_ids: dict[str, str] = {}
    group_members: dict[str, list[dict[str, Any]]] = {}
    for number, line in enumerate(lines, start=1):
        kind = line.get("resourceType")
        old_id = str(line.get("id", ""))
        attributes = {k: v for k, v in line.items() if k not in ("resourceType", "id", "members")}
        try:
            if kind == "User":
                user = read_resource(scope.models.user, attributes, CREATE, "User", scope.users_url)
                created = users.create_user(scope, user)
                result.users += 1
            elif kind == "Group":
                group = read_resource(
                    scope.models.group, attributes, CREATE, "Group", scope.users_url
                )
                created = groups.create_group(scope, group)
                group_members[str(created.id)] = list(line.get("members") or [])
                result.groups += 1
            else:
                raise Invalid(f"resourceType is User or Group, not {kind!r}")
            new_ids[old_id] = str(created.id)
        except (SCIMException, Invalid) as exc:
            result.refused.append(f"line {number} ({kind} {old_id}): {_reason(exc)}")
        on_progress()
    for group_id, listed in group_members.items():
        mapped = [{"value": new_ids[m["value"]]} for m in listed if m.get("value") in new_ids]
        if not mapped:
            continue
        operation = {"op": "add", "path": "members", "value": mapped}
        patch = read_patch(
            scope.models.group,
            {"schemas": [PATCH_SCHEMA], "Operations": [operation]},
            scope.users_url,
        )
        groups.patch_group(scope, group_id, patch, None, respond=False)
        result.memberships += len(mapped)
    return result


def _reason(exc: Exception) -> str:
    return str(getattr(exc, "detail", None) or exc)
