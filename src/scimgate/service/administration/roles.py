"""Role mapping: groups give roles; each user's effective roles follow memberships and rules.

A rule gives a role to the members of a group named by its display name
(case-insensitively) or by the IdP's id for it; a ``default`` rule gives a role
to users no other rule matches. A user's roles are listed by rule priority,
lowest first, each once. They are stored, so the app reads them without
evaluating anything, and recomputed in the transaction of every change that can
move them; a change records ``user.roles_changed``.

Rules look at a user's groups only, never at the user's own attributes: a
user in no group (a new one) has the ``default`` rule's role, or none.
"""

from collections.abc import Iterable, Sequence
from dataclasses import replace

from sqlalchemy import Engine

from scimgate.scim.compare import fold
from scimgate.service.directories import existing_directory
from scimgate.service.errors import Invalid
from scimgate.service.event_stream.changes import UnitOfWork, changing
from scimgate.service.event_stream.payloads import UserFacts
from scimgate.store import membership_lists, roles
from scimgate.store.ids import new_id
from scimgate.store.membership_lists import Membership
from scimgate.store.roles import RoleRule
from scimgate.store.transactions import reading

RULE_KINDS = ("group_name", "group_external_id", "default")


def effective_roles(rules: Sequence[RoleRule], groups: Iterable[Membership]) -> list[str]:
    """The roles rules give to a member of these groups, in priority order."""
    names = {fold(group.display) for group in groups}
    external_ids = {group.external_id for group in groups if group.external_id}
    matched = [
        rule.role
        for rule in rules
        if (rule.kind == "group_name" and fold(rule.match) in names)
        or (rule.kind == "group_external_id" and rule.match in external_ids)
    ]
    if not matched:
        matched = [rule.role for rule in rules if rule.kind == "default"][:1]
    return list(dict.fromkeys(matched))


def recompute(
    work: UnitOfWork, user_ids: Sequence[str], *, known: dict[str, UserFacts] | None = None
) -> None:
    """Bring these users' stored roles up to date, recording each change.

    ``known`` holds what the caller has read of some of these users as they
    now stand (memberships and stored roles): it is not read again. The rules
    are those of the transaction's payload builder
    (:attr:`scimgate.service.event_stream.changes.UnitOfWork.builder`), as they stood when it
    was first used: the use cases that change rules use it only after.
    """
    conn, directory_id = work.conn, work.directory_id
    rules = work.builder.config.rules
    known = known or {}
    unknown = [user_id for user_id in user_ids if user_id not in known]
    read_roles = roles.roles_of(conn, directory_id, unknown) if unknown else {}
    current = {
        user_id: known[user_id].roles if user_id in known else read_roles[user_id]
        for user_id in user_ids
    }
    if not rules and not any(current.values()):
        return
    read_groups = membership_lists.groups_of(conn, directory_id, unknown)
    wanted = {
        user_id: effective_roles(
            rules, known[user_id].groups if user_id in known else read_groups[user_id]
        )
        for user_id in user_ids
    }
    moved = {user_id: roles_ for user_id, roles_ in wanted.items() if roles_ != current[user_id]}
    roles.store_roles(conn, directory_id, moved)
    if moved:
        facts = {
            user_id: replace(known[user_id], roles=moved[user_id])
            for user_id in moved
            if user_id in known
        }
        work.roles_changed({user_id: current[user_id] for user_id in moved}, facts)


def new_rule(kind: str, match: str, role: str, priority: int) -> RoleRule:
    """A rule as it would be added; ``Invalid`` for one that could not be."""
    if kind not in RULE_KINDS:
        raise Invalid(f"kind is one of {', '.join(RULE_KINDS)}", subject="Role rule")
    if not role.strip() or (kind != "default" and not match.strip()):
        raise Invalid(
            "a rule needs a role, and a group to match unless it is the default",
            subject="Role rule",
        )
    if len(role) > 64 or len(match) > 512:
        raise Invalid("a role is at most 64 characters, a group at most 512", subject="Role rule")
    return RoleRule(new_id(), kind, match if kind != "default" else "", role, priority)


def add_rule(
    engine: Engine, directory_id: str, kind: str, match: str, role: str, priority: int
) -> RoleRule:
    """Add a rule (a ``default`` rule replaces the previous one) and apply it to every user."""
    rule = new_rule(kind, match, role, priority)
    with changing(engine, directory_id) as work:
        conn = work.conn
        existing_directory(conn, directory_id)
        if kind == "default":
            roles.remove_default(conn, directory_id)
        roles.add_rule(conn, directory_id, rule)
        recompute(work, roles.all_user_ids(conn, directory_id))
    return rule


def remove_rule(engine: Engine, directory_id: str, rule_id: str) -> bool:
    with changing(engine, directory_id) as work:
        removed = roles.remove_rule(work.conn, directory_id, rule_id)
        if removed:
            recompute(work, roles.all_user_ids(work.conn, directory_id))
    return removed


def list_rules(engine: Engine, directory_id: str) -> list[RoleRule]:
    with reading(engine) as conn:
        existing_directory(conn, directory_id)
        return roles.rules(conn, directory_id)
