"""What the mapping editors show: current mappings and role rules, and a change's effect unsaved.

A preview reads the directory's users a page at a time and applies the same
code the normalized view applies (``custom_attributes``, ``effective_roles``)
with and without the change. A huge directory is previewed on its first
``SCAN_CAP`` users (in id order, which is creation order): the preview says so.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine

from scimgate.records import frozen
from scimgate.scim.attribute_mapping import DEFAULTS, custom_attributes
from scimgate.service.administration.attribute_mappings import effective_mappings, mapping_path
from scimgate.service.administration.roles import effective_roles, new_rule
from scimgate.service.administration.tenants import effective_idp
from scimgate.service.directories import existing_directory
from scimgate.service.provisioning.representation import user_resource
from scimgate.service.provisioning.scope import Site
from scimgate.store import mappings, membership_lists, roles
from scimgate.store.membership_lists import Membership
from scimgate.store.resource_tables import USERS
from scimgate.store.roles import RoleRule
from scimgate.store.stored_resources import StoredResource
from scimgate.store.tenants import Directory
from scimgate.store.transactions import reading

SCAN_CAP = 5_000
"""A preview reads at most this many users."""

SAMPLE = 20
"""A preview lists at most this many of the users it would change."""

PAGE = 500


@frozen
class Mapping:
    name: str
    path: str
    default: str | None
    """The IdP profile's path for this name, if it has one."""

    own: bool
    """Set for this directory (removing it brings the default back); False for a default."""


@frozen
class MappingSettings:
    directory: Directory
    mappings: list[Mapping]
    rules: list[RoleRule]


def settings(engine: Engine, directory_id: str) -> MappingSettings:
    """The directory's effective attribute mappings, told apart from defaults, and its role rules.

    ``UnknownDirectory`` for an unknown directory.
    """
    with reading(engine) as conn:
        directory = existing_directory(conn, directory_id)
        own = mappings.mappings(conn, directory_id)
        rules = roles.rules(conn, directory_id)
    defaults = DEFAULTS[effective_idp(directory)]
    effective = {**defaults, **own}
    return MappingSettings(
        directory,
        [
            Mapping(name, path, defaults.get(name), name in own)
            for name, path in sorted(effective.items())
        ],
        rules,
    )


@frozen
class Change:
    """One user's value, or roles, before and after the change."""

    user_id: str
    user_name: str
    before: Any
    after: Any


@dataclass
class Preview:
    """The effect of a change on the users read."""

    total: int
    """Users in the directory."""

    scanned: int = 0
    changed: int = 0
    examples: list[Change] = field(default_factory=list)

    @property
    def truncated(self) -> bool:
        """Whether only the first users were read (the scan's cap)."""
        return self.scanned < self.total

    def note(self, change: Change) -> None:
        self.changed += 1
        if len(self.examples) < SAMPLE:
            self.examples.append(change)


@frozen
class MappingPreview:
    name: str
    path: str
    current_path: str | None
    """What the name reads now; None when it is a new name."""

    preview: Preview


@frozen
class RolePreview:
    rule: RoleRule
    preview: Preview
    gaining: int
    """Users among those read who would gain the rule's role."""


Compare = Callable[[Connection, list[StoredResource]], Iterator[Change]]


def preview_mapping(
    engine: Engine, directory_id: str, name: str, path: str, *, cap: int = SCAN_CAP
) -> MappingPreview:
    """How mapping ``name`` to ``path`` would change users' custom attributes; saves nothing.

    Refuses what saving would refuse (``InvalidPath``); ``UnknownDirectory`` for an
    unknown directory.
    """
    with reading(engine) as conn:
        directory = existing_directory(conn, directory_id)
    checked = mapping_path(engine, directory, name, path)
    current = effective_mappings(engine, directory_id).get(name)
    site = Site(engine, directory, "")

    def compare(conn: Connection, rows: list[StoredResource]) -> Iterator[Change]:
        groups = membership_lists.groups_of(conn, directory_id, [row.id for row in rows])
        for row in rows:
            user = user_resource(site, row, groups[row.id])
            before = custom_attributes(user, {name: current})[name] if current else None
            after = custom_attributes(user, {name: checked})[name]
            if before != after:
                yield Change(row.id, str(row.doc.get("userName", "")), before, after)

    return MappingPreview(name, checked, current, _scan(engine, directory_id, compare, cap))


def preview_rule(
    engine: Engine,
    directory_id: str,
    kind: str,
    match: str,
    role: str,
    priority: int,
    *,
    cap: int = SCAN_CAP,
) -> RolePreview:
    """How adding a role rule would change users' roles; saves nothing.

    Refuses (``Invalid``) what adding the rule would refuse; ``UnknownDirectory`` for an
    unknown directory.
    """
    rule = new_rule(kind, match, role, priority)
    with reading(engine) as conn:
        existing_directory(conn, directory_id)
        current = roles.rules(conn, directory_id)
    kept = [each for each in current if kind != "default" or each.kind != "default"]
    proposed = sorted([*kept, rule], key=lambda each: (each.priority, each.id))
    gaining = 0

    def compare(conn: Connection, rows: list[StoredResource]) -> Iterator[Change]:
        nonlocal gaining
        ids = [row.id for row in rows]
        stored = roles.roles_of(conn, directory_id, ids)
        groups: dict[str, list[Membership]] = membership_lists.groups_of(conn, directory_id, ids)
        for row in rows:
            before = stored[row.id]
            after = effective_roles(proposed, groups[row.id])
            if before != after:
                gaining += role in after and role not in before
                yield Change(row.id, str(row.doc.get("userName", "")), before, after)

    preview = _scan(engine, directory_id, compare, cap)
    return RolePreview(rule, preview, gaining)


def _scan(engine: Engine, directory_id: str, compare: Compare, cap: int) -> Preview:
    """Read the directory's first ``cap`` users a page at a time, noting each change."""
    with reading(engine) as conn:
        preview = Preview(total=USERS.count(conn, directory_id, None))
        after_id: str | None = None
        while preview.scanned < cap:
            rows = USERS.page(
                conn,
                directory_id,
                None,
                min(PAGE, cap - preview.scanned),
                after_id=after_id,
            )
            if not rows:
                break
            for change in compare(conn, rows):
                preview.note(change)
            preview.scanned += len(rows)
            after_id = rows[-1].id
    return preview
