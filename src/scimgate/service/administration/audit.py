"""The audit log: one append-only row per administrative action, whoever made it.

Refused credentials are the exception: those of one client address, action
and reason within ``REFUSAL_WINDOW`` share one row, which counts them.
"""

import re
from datetime import timedelta

from sqlalchemy import Engine

from scimgate.records import frozen
from scimgate.store import audit, tenants
from scimgate.store.audit import AuditEntry, AuditQuery
from scimgate.store.ids import new_id, utcnow
from scimgate.store.transactions import reading, writing

OUTCOMES = ("ok", "refused", "error")
UNAUTHENTICATED = "unauthenticated"
"""The actor of a request whose credentials were missing or refused."""

REFUSAL_WINDOW = timedelta(minutes=1)
"""How long one audit row keeps counting the refusals of an address, action and reason."""
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")
_PATH_PARAM = re.compile(r"/([^/{}]+)/\{(\w+)")


@frozen
class Action:
    """What to record; free text is cleaned and cut to the columns' sizes here."""

    actor: str
    action: str
    outcome: str
    target_type: str | None = None
    target_id: str | None = None
    organization_id: str | None = None
    directory_id: str | None = None
    """When the target lies in a directory, its organization is recorded."""

    detail: str | None = None


def route_action(
    actor: str, method: str, template: str, params: dict[str, str], outcome: str
) -> Action:
    """An action named by its route: the target is the last ``/<things>/{id}`` of the path."""
    target_type = target_id = None
    named = _PATH_PARAM.findall(template)
    if named:
        collection, param = named[-1]
        target_type, target_id = _singular(collection), str(params.get(param, ""))
    return Action(
        actor=actor,
        action=f"{method} {template}",
        outcome=outcome,
        target_type=target_type,
        target_id=target_id,
        organization_id=params.get("organization_id"),
        directory_id=params.get("directory_id"),
    )


def _singular(collection: str) -> str:
    if collection.endswith("ies"):
        return collection[:-3] + "y"
    return collection.removesuffix("s")


@frozen
class AuditPage:
    entries: list[AuditEntry]
    next_before: int | None
    """Pass as ``before`` for the next, older page; None on the last page."""


def record(engine: Engine, action: Action) -> AuditEntry:
    """Append one row. Ids that name no organization or directory leave the organization empty."""
    if action.outcome not in OUTCOMES:
        raise ValueError(f"outcome is one of {', '.join(OUTCOMES)}")
    with writing(engine) as conn:
        organization_id = None
        if action.organization_id is not None:
            found = tenants.get_organization(conn, _clean(action.organization_id, 36) or "")
            organization_id = found.id if found is not None else None
        if organization_id is None and action.directory_id is not None:
            directory = tenants.get_directory(conn, _clean(action.directory_id, 36) or "")
            organization_id = directory.organization_id if directory is not None else None
        entry = AuditEntry(
            id=new_id(),
            at=utcnow(),
            actor=_clean(action.actor, 200) or "unknown",
            action=_clean(action.action, 200) or "unknown",
            target_type=_clean(action.target_type, 64),
            target_id=_clean(action.target_id, 512),
            organization_id=organization_id,
            outcome=action.outcome,
            detail=_clean(action.detail, 1024),
        )
        audit.append(conn, entry)
    return entry


@frozen
class Refusal:
    """Credentials refused to a client address: the action it tried and the reason."""

    client: str
    action: str
    reason: str


def record_refusal(engine: Engine, refusal: Refusal) -> None:
    """Count a refusal in its address's row for the action and reason, or start a row."""
    client = _clean(refusal.client, 64) or "unknown"
    action = _clean(refusal.action, 200) or "unknown"
    detail = _clean(refusal.reason, 1024) or "refused"
    now = utcnow()
    with writing(engine) as conn:
        if audit.count_again(conn, UNAUTHENTICATED, client, action, detail, now - REFUSAL_WINDOW):
            return
        audit.append(
            conn,
            AuditEntry(
                id=new_id(),
                at=now,
                actor=UNAUTHENTICATED,
                action=action,
                target_type=None,
                target_id=None,
                organization_id=None,
                outcome="refused",
                detail=detail,
                client=client,
            ),
        )


def entries(engine: Engine, query: AuditQuery) -> AuditPage:
    """A page of entries, newest first."""
    with reading(engine) as conn:
        found = audit.entries(conn, query)
    last = found[-1][0] if len(found) == query.limit else None
    return AuditPage([entry for _, entry in found], last)


def _clean(text: str | None, size: int) -> str | None:
    return None if text is None else _UNPRINTABLE.sub("?", text)[:size]
