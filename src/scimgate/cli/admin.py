"""``scimgate orgs|keys|audit …``: organizations, admin API keys and the audit log.

Every change made here is written to the audit log, with the operating-system
user as the actor (``cli:<user>``).
"""

import getpass
import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import typer
from rich.table import Table
from sqlalchemy import Engine

from scimgate.cli.common import DatabaseOption, add_row, console, engine_for
from scimgate.service import admin_keys, audit, tenants
from scimgate.service.admin_keys import SCOPES
from scimgate.service.errors import ServiceError
from scimgate.store.audit import AuditQuery

orgs_app = typer.Typer(help="Organizations: the customers whose directories scimgate serves.")
keys_app = typer.Typer(help="Admin API keys: bearer keys that open the management API.")
audit_app = typer.Typer(help="The audit log of administrative actions.")
T = TypeVar("T")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")]


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in a bare container
        return "cli"


def audited(
    engine: Engine,
    verb: str,
    target_type: str,
    change: Callable[[], T],
    target_id: Callable[[T], str],
    organization_id: Callable[[T], str | None] = lambda _: None,
) -> T:
    """Make a change and append its audit row; a refused change is recorded, then reported."""
    try:
        result = change()
    except ServiceError as exc:
        audit.record(engine, audit.Action(_actor(), verb, "refused", target_type, detail=str(exc)))
        raise
    audit.record(
        engine,
        audit.Action(
            _actor(),
            verb,
            "ok",
            target_type,
            target_id(result),
            organization_id=organization_id(result),
        ),
    )
    return result


@orgs_app.command("create")
def create_organization(name: str, database_url: DatabaseOption = None) -> None:
    """Create an organization and print its id."""
    engine = engine_for(database_url)
    if not name.strip():
        raise typer.BadParameter("an organization needs a name")
    created = audited(
        engine,
        "organization.create",
        "organization",
        lambda: tenants.create_organization(engine, name),
        lambda org: org.id,
        lambda org: org.id,
    )
    console.print(created.id)


@orgs_app.command("list")
def list_organizations(as_json: JsonOption = False, database_url: DatabaseOption = None) -> None:
    """List organizations."""
    found = tenants.list_organizations(engine_for(database_url))
    if as_json:
        console.print_json(json.dumps([asdict(org) for org in found], default=str))
        return
    table = Table("id", "name", "created")
    for org in found:
        add_row(table, org.id, org.name, f"{org.created_at:%Y-%m-%d %H:%M}")
    console.print(table)


@keys_app.command("create")
def create_key(
    name: str,
    scope: Annotated[str, typer.Option(help=f"One of {', '.join(SCOPES)}")],
    database_url: DatabaseOption = None,
) -> None:
    """Create an admin key and print it (shown this once; only its hash is kept)."""
    engine = engine_for(database_url)
    issued = audited(
        engine,
        "key.create",
        "key",
        lambda: admin_keys.create_key(engine, name, scope),
        lambda key: key.record.id,
    )
    console.print(f"Key id: {issued.record.id} ({issued.record.scope})")
    console.print(f"Admin key: {issued.secret}")
    console.print("The key is shown once; send it as 'Authorization: Bearer <key>'.")


@keys_app.command("list")
def list_keys(as_json: JsonOption = False, database_url: DatabaseOption = None) -> None:
    """List admin keys (never their secrets)."""
    found = admin_keys.list_keys(engine_for(database_url))
    if as_json:
        console.print_json(json.dumps([asdict(key) for key in found], default=str))
        return
    table = Table("id", "name", "scope", "hint", "created", "last used", "revoked")
    for key in found:
        add_row(
            table,
            key.id,
            key.name,
            key.scope,
            key.hint + "…",
            _when(key.created_at),
            _when(key.last_used_at),
            _when(key.revoked_at),
        )
    console.print(table)


@keys_app.command("revoke")
def revoke_key(key_id: str, database_url: DatabaseOption = None) -> None:
    """Revoke an admin key: requests with it are refused from now on."""
    engine = engine_for(database_url)
    revoked = admin_keys.revoke_key(engine, key_id)
    outcome = "ok" if revoked else "refused"
    detail = None if revoked else "no such active key"
    audit.record(
        engine, audit.Action(_actor(), "key.revoke", outcome, "key", key_id, detail=detail)
    )
    if not revoked:
        raise typer.BadParameter(f"no active admin key {key_id}")
    console.print(f"Revoked {key_id}.")


@audit_app.command("list")
def list_audit(
    since: Annotated[
        datetime | None, typer.Option(help="Only entries at or after this instant (UTC)")
    ] = None,
    actor: Annotated[str | None, typer.Option(help="An actor, or an admin key's id")] = None,
    org: Annotated[str | None, typer.Option("--org", help="Organization id")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    as_json: JsonOption = False,
    database_url: DatabaseOption = None,
) -> None:
    """List audit entries, newest first."""
    query = AuditQuery(
        since=since.replace(tzinfo=since.tzinfo or UTC) if since else None,
        actor=actor,
        organization_id=org,
        limit=limit,
    )
    page = audit.entries(engine_for(database_url), query)
    if as_json:
        console.print_json(json.dumps([asdict(entry) for entry in page.entries], default=str))
        return
    table = Table("at", "actor", "action", "target", "outcome", "detail")
    for entry in page.entries:
        target = f"{entry.target_type} {entry.target_id}" if entry.target_type else ""
        actor = f"{entry.actor} from {entry.client}" if entry.client else entry.actor
        detail = entry.detail or ""
        if entry.count > 1:  # refused credentials of one address, counted in one row
            detail = f"{detail} ({entry.count} times)"
        add_row(table, _when(entry.at), actor, entry.action, target, entry.outcome, detail)
    console.print(table)


def _when(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M:%S}" if at is not None else ""
