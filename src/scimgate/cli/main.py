"""The ``scimgate`` command: run the service, migrate, manage directories and tokens."""

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import uvicorn
from fastapi import FastAPI
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from scim2_models import SCIMException
from sqlalchemy.engine import make_url

from scimgate.api.app import create_app
from scimgate.cli.admin import audit_app, keys_app, orgs_app
from scimgate.cli.common import (
    BaseUrlOption,
    CountOption,
    DatabaseOption,
    JsonLinesOption,
    StartIndexOption,
    add_row,
    console,
    engine_for,
    report_service_errors,
    settings_for,
)
from scimgate.cli.encryption import encryption_app
from scimgate.cli.events import events_app, held_app, offboarding_app
from scimgate.cli.logs import logs_app
from scimgate.cli.setup_links import setup_links_app
from scimgate.cli.webhooks import webhooks_app, worker
from scimgate.config import MULTIPROCESS_DIRECTORY
from scimgate.logging import configure as configure_logging
from scimgate.scim.extensions import simple_schema
from scimgate.scim.idp import IdpProfile
from scimgate.service import (
    attribute_mappings,
    confirmations,
    erasure,
    event_feed,
    extension_schemas,
    safety,
    tenants,
    transfer,
)
from scimgate.service import roles as role_mapping
from scimgate.service.bootstrap import prepare_database
from scimgate.service.directory_view import directory_groups, directory_users
from scimgate.service.errors import Invalid, NotFound
from scimgate.service.worker import start_in_background
from scimgate.simulator import lifecycle
from scimgate.simulator.dialects import DIALECTS
from scimgate.simulator.population import generate
from scimgate.store.engine import open_engine
from scimgate.store.migrate import upgrade

app = typer.Typer(help="scimgate: a SCIM 2.0 provisioning service.", no_args_is_help=True)
directories_app = typer.Typer(help="Directories: one per identity-provider connection.")
tokens_app = typer.Typer(help="Bearer tokens of a directory.")
users_app = typer.Typer(help="A directory's users, in the normalized shape apps read.")
groups_app = typer.Typer(help="A directory's groups, in the normalized shape apps read.")
roles_app = typer.Typer(help="Role mapping: groups give their members roles.")
mappings_app = typer.Typer(help="Attribute mappings: named custom attributes read from SCIM paths.")
schemas_app = typer.Typer(help="Extension schemas: custom attributes a directory's IdP sends.")
app.add_typer(directories_app, name="directories")
app.add_typer(tokens_app, name="tokens")
app.add_typer(users_app, name="users")
app.add_typer(groups_app, name="groups")
app.add_typer(mappings_app, name="mappings")
app.add_typer(roles_app, name="roles")
app.add_typer(schemas_app, name="schemas")
app.add_typer(events_app, name="events")
app.add_typer(held_app, name="held")
app.add_typer(offboarding_app, name="offboarding")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(logs_app, name="logs")
app.add_typer(orgs_app, name="orgs")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.add_typer(setup_links_app, name="setup-links")
app.add_typer(encryption_app, name="encryption")
app.command()(worker)


def _scim_url(root: str, directory_id: str) -> str:
    return f"{root.rstrip('/')}/scim/v2/{directory_id}"


def _public_root(base_url: str | None) -> str:
    return base_url or os.environ.get("SCIMGATE_PUBLIC_URL") or "http://127.0.0.1:8000"


APP_FACTORY = "scimgate.cli.main:server_process_app"
"""What each of several server processes imports: the app built from the environment."""


def server_process_app() -> FastAPI:
    """The application of one server process of ``serve --workers N``.

    Each process is started afresh, so it sets up logging as ``serve`` did and
    reads its settings from the environment, where ``serve`` put its options.
    """
    configure_logging(json=not sys.stderr.isatty())
    return create_app()


SHUTDOWN_GRACE_SECONDS = 30
"""How long a stopping server waits for its requests in flight before it closes them."""


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1, help="Server processes sharing the port (more than 1 needs PostgreSQL)"
        ),
    ] = 1,
    with_worker: Annotated[
        bool,
        typer.Option(
            "--worker/--no-worker",
            help="Deliver webhooks in this process too (off when 'scimgate worker' runs apart)",
        ),
    ] = True,
    database_url: DatabaseOption = None,
) -> None:
    """Run the SCIM service (migrating the database first; a new database gets a demo directory)."""
    configure_logging(json=not sys.stderr.isatty())
    settings = settings_for(database_url)
    if workers > 1 and make_url(settings.database_url).get_backend_name() == "sqlite":
        # SQLite lets one writer in at a time: more processes only queue for its lock.
        raise typer.BadParameter(
            "several server processes need PostgreSQL; SQLite serves one process on one machine",
            param_hint="--workers",
        )
    engine = open_engine(settings.database_url, None, settings.encryption_keys)
    bootstrap = prepare_database(engine)
    engine.dispose()  # the server (and the worker) open their own
    root = settings.public_url or f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}"
    if bootstrap.created is not None:
        created = bootstrap.created
        console.print("[bold]First start: created a demo directory.[/bold]")
        console.print(f"SCIM base URL: {_scim_url(root, created.directory.id)}")
        console.print(f"Bearer token:  {created.token.secret}")
        console.print("The token is shown once; create more with 'scimgate tokens create'.")
    if bootstrap.admin_key is not None:
        console.print(f"Admin portal:  {root}/admin/")
        console.print(f"Admin key:     {bootstrap.admin_key.secret}")
        console.print("Sign in with the key; it is shown once ('scimgate keys create' makes more).")
    background = start_in_background(settings) if with_worker else None
    # scimgate writes its own access line (no query strings, no secrets in paths).
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "info",
        "access_log": False,
        # SIGTERM: stop accepting, let requests in flight finish (and commit), then exit.
        "timeout_graceful_shutdown": SHUTDOWN_GRACE_SECONDS,
    }
    try:
        if workers == 1:
            # uvicorn ends the process by re-raising SIGTERM once it has shut down, so the
            # worker stops in the application's shutdown, with its deliveries finished.
            on_shutdown = background.stop if background is not None else None
            uvicorn.run(create_app(settings, on_shutdown=on_shutdown), **options)
        else:
            # The server processes start afresh and read their settings from the environment,
            # and count their traffic in files that any one of them sums up when scraped.
            os.environ["SCIMGATE_DATABASE_URL"] = settings.database_url
            with tempfile.TemporaryDirectory(prefix="scimgate-metrics-") as counters:
                os.environ.setdefault(MULTIPROCESS_DIRECTORY, counters)
                uvicorn.run(APP_FACTORY, factory=True, workers=workers, **options)
    finally:
        if background is not None:
            background.stop()


@app.command()
def migrate(database_url: DatabaseOption = None) -> None:
    """Bring the database schema up to date."""
    upgrade(engine_for(database_url))
    console.print("Database is up to date.")


@directories_app.command("create")
def create_directory(
    name: str,
    org: Annotated[str, typer.Option("--org", help="Organization name (created if new)")],
    idp: Annotated[IdpProfile, typer.Option(help="The identity provider it connects")] = (
        IdpProfile.generic
    ),
    dry_run: Annotated[
        bool, typer.Option(help="Hold every event until the first sync is reviewed")
    ] = False,
    database_url: DatabaseOption = None,
    base_url: BaseUrlOption = None,
) -> None:
    """Create a directory and print its SCIM base URL and first token."""
    engine = engine_for(database_url)
    upgrade(engine)
    organization = tenants.ensure_organization(engine, org)
    created = tenants.create_directory(engine, organization.id, name, idp, dry_run=dry_run)
    described = f"{name}, {idp.value}, organization {org} ({organization.id})"
    console.print(f"Directory:     {created.directory.id} ({described})")
    if dry_run:
        console.print("Dry run: events are held until 'scimgate held release'.")
    console.print(f"SCIM base URL: {_scim_url(_public_root(base_url), created.directory.id)}")
    console.print(f"Bearer token:  {created.token.secret}")


@directories_app.command("list")
def list_directories(database_url: DatabaseOption = None) -> None:
    """List every directory."""
    engine = engine_for(database_url)
    table = Table("name", "idp", "created")
    table.add_column("id", no_wrap=True, min_width=36)
    table.add_column("organization", no_wrap=True, min_width=36)
    for directory in tenants.list_directories(engine):
        idp = tenants.effective_idp(directory).value
        declared = directory.idp != "generic" or directory.idp_detected is None
        add_row(
            table,
            directory.name,
            idp if declared else f"{idp} (recognised)",
            directory.created_at.isoformat(timespec="seconds"),
            directory.id,
            directory.organization_id,
        )
    console.print(table)


@directories_app.command("configure")
def configure_directory(
    directory_id: str,
    assignment_group: Annotated[
        str | None,
        typer.Option(help="Display name of the group whose members may use the app"),
    ] = None,
    no_assignment_group: Annotated[
        bool, typer.Option(help="Every user of the directory may use the app")
    ] = False,
    safety_max_count: Annotated[
        int | None, typer.Option(help="Deprovisionings in the window that hold events (0: off)")
    ] = None,
    safety_max_percent: Annotated[
        int | None, typer.Option(help="Share of users, in percent, that holds events (0: off)")
    ] = None,
    safety_window: Annotated[
        int | None, typer.Option(help="The safety valve's window, in minutes")
    ] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Set a directory's assignment group and safety-valve thresholds."""
    engine = engine_for(database_url)
    if assignment_group is not None and no_assignment_group:
        raise typer.BadParameter("give --assignment-group or --no-assignment-group, not both")
    valve = safety.configure(
        engine,
        directory_id,
        max_count=safety_max_count,
        max_percent=safety_max_percent,
        window_minutes=safety_window,
    )
    if assignment_group is not None or no_assignment_group:
        safety.set_assignment_group(engine, directory_id, assignment_group)
    console.print(
        f"Safety valve: more than {valve.max_count} deprovisionings or {valve.max_percent}% "
        f"of users within {valve.window_minutes} minutes hold events (0 = rule off); "
        f"delivery is {valve.delivery}."
    )
    if assignment_group is not None:
        console.print(f"Only members of {assignment_group!r} are active users of the app.")
    elif no_assignment_group:
        console.print("Every user of the directory is a user of the app.")


@tokens_app.command("create")
def create_token(
    directory_id: str,
    name: Annotated[str, typer.Option(help="A label, e.g. the IdP it is for")] = "token",
    database_url: DatabaseOption = None,
) -> None:
    """Create another token for a directory (rotate: create, switch the IdP, revoke the old)."""
    engine = engine_for(database_url)
    issued = tenants.create_token(engine, directory_id, name)
    console.print(f"Token id:     {issued.record.id}")
    console.print(f"Bearer token: {issued.secret}")


@tokens_app.command("list")
def list_tokens(directory_id: str, database_url: DatabaseOption = None) -> None:
    """List a directory's tokens (never their secrets)."""
    engine = engine_for(database_url)
    table = Table("name", "starts with", "created", "last used", "revoked")
    table.add_column("id", no_wrap=True, min_width=36)
    found = tenants.list_tokens(engine, directory_id)
    for token in found:
        add_row(
            table,
            token.name,
            token.hint + "…",
            token.created_at.isoformat(timespec="seconds"),
            token.last_used_at.isoformat(timespec="seconds") if token.last_used_at else "never",
            token.revoked_at.isoformat(timespec="seconds") if token.revoked_at else "",
            token.id,
        )
    console.print(table)


@tokens_app.command("revoke")
def revoke_token(directory_id: str, token_id: str, database_url: DatabaseOption = None) -> None:
    """Revoke a token: requests bearing it get 401 from now on."""
    engine = engine_for(database_url)
    if not tenants.revoke_token(engine, directory_id, token_id):
        console.print("No such active token in that directory.")
        raise typer.Exit(1)
    console.print(f"Revoked {token_id}.")


@users_app.command("list")
def list_users(
    directory_id: str,
    count: CountOption = 100,
    start_index: StartIndexOption = 1,
    as_json: JsonLinesOption = False,
    database_url: DatabaseOption = None,
    base_url: BaseUrlOption = None,
) -> None:
    """List a directory's users, normalized (the same fields whichever IdP sent them)."""
    total, found = _normalized_page(
        directory_users, database_url, directory_id, base_url, count, start_index
    )
    if as_json:
        _print_json_lines(found)
        return
    table = Table("username", "name", "e-mail", "department", "state", "groups", "roles")
    table.add_column("id", no_wrap=True, min_width=36)
    for user in found:
        add_row(
            table,
            user.username,
            user.display_name or "",
            user.primary_email or "",
            user.department or "",
            user.state.value,
            ", ".join(group.name for group in user.groups),
            ", ".join(user.roles),
            user.id,
        )
    console.print(table)
    console.print(f"{len(found)} of {total} users from position {start_index}.")


@groups_app.command("list")
def list_groups(
    directory_id: str,
    count: CountOption = 100,
    start_index: StartIndexOption = 1,
    as_json: JsonLinesOption = False,
    database_url: DatabaseOption = None,
    base_url: BaseUrlOption = None,
) -> None:
    """List a directory's groups, normalized."""
    total, found = _normalized_page(
        directory_groups, database_url, directory_id, base_url, count, start_index
    )
    if as_json:
        _print_json_lines(found)
        return
    table = Table("name", "IdP id")
    table.add_column("id", no_wrap=True, min_width=36)
    for group in found:
        add_row(table, group.name, group.idp_id or "", group.id)
    console.print(table)
    console.print(f"{len(found)} of {total} groups from position {start_index}.")


Page = TypeVar("Page")


def _normalized_page(
    view: Callable[..., tuple[int, list[Page]]],
    database_url: str | None,
    directory_id: str,
    base_url: str | None,
    count: int,
    start_index: int,
) -> tuple[int, list[Page]]:
    """A page of the directory's normalized view; an unknown directory ends the command."""
    return view(
        engine_for(database_url),
        directory_id,
        _public_root(base_url),
        count=count,
        start_index=start_index,
    )


def _print_json_lines(found: list[Any]) -> None:
    for item in found:
        print(json.dumps(asdict(item), default=str))


@app.command("export")
def export_directory(
    directory_id: str,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write; default stdout")
    ] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Write a directory's users and groups as JSON lines (users first, groups with members)."""
    engine = engine_for(database_url)
    target = output.open("w") if output else sys.stdout
    written = 0
    try:
        with Progress(console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task("Exporting", total=None)
            for line in transfer.export_directory(engine, directory_id):
                target.write(json.dumps(line) + "\n")
                written += 1
                progress.advance(task)
    finally:
        if output:
            target.close()
    Console(stderr=True).print(f"Exported {written} resources.")


@app.command("import")
def import_directory(
    directory_id: str,
    source: Annotated[Path, typer.Argument(help="JSON lines, as 'scimgate export' writes them")],
    database_url: DatabaseOption = None,
) -> None:
    """Provision an export into a directory, as an IdP would (events included)."""
    engine = engine_for(database_url)
    lines = [json.loads(text) for text in source.read_text().splitlines() if text.strip()]
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("Importing", total=len(lines))
        result = transfer.import_directory(
            engine, directory_id, lines, lambda: progress.advance(task)
        )
    console.print(
        f"Imported {result.users} users, {result.groups} groups, "
        f"{result.memberships} memberships; {len(result.refused)} refused."
    )
    for reason in result.refused:
        console.print(f"  {reason}")
    if result.refused:
        raise typer.Exit(1)


@users_app.command("history")
def user_history(
    directory_id: str,
    user_id: str,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON event per line")] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Every published event about a user, oldest first."""
    found = event_feed.user_history(engine_for(database_url), directory_id, user_id)
    if as_json:
        for event in found:
            print(json.dumps(event))
        return
    table = Table("seq", "occurred", "type")
    for event in found:
        add_row(table, str(event["sequence"]), str(event["occurred_at"]), str(event["type"]))
    console.print(table)


@users_app.command("purge")
def purge_user(
    directory_id: str,
    user_id: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Erase a deleted or deactivated user's personal data (a data subject's request)."""
    if not yes:
        typer.confirm(f"Erase every personal detail of user {user_id}?", abort=True)
    try:
        purged = erasure.purge_user(engine_for(database_url), directory_id, user_id)
    except (NotFound, erasure.StillActive) as exc:
        console.print(f"Not purged: {exc}")
        raise typer.Exit(1) from None
    if purged.deleted_now:
        console.print(f"Deleted user {user_id} (it was deactivated).")
    console.print(
        f"Erased user {user_id}: {purged.events_redacted} events redacted, tombstone removed."
    )


@mappings_app.command("list")
def list_mappings(directory_id: str, database_url: DatabaseOption = None) -> None:
    """Show the directory's attribute mappings, its IdP's defaults included."""
    engine = engine_for(database_url)
    found = attribute_mappings.effective_mappings(engine, directory_id)
    table = Table("name", "SCIM path")
    for name, path in found.items():
        add_row(table, name, path)
    console.print(table)


@mappings_app.command("set")
def set_mapping(
    directory_id: str, name: str, path: str, database_url: DatabaseOption = None
) -> None:
    """Map a custom attribute NAME to a SCIM PATH, e.g. cost_center to a custom extension."""
    engine = engine_for(database_url)
    try:
        attribute_mappings.set_mapping(engine, directory_id, name, path)
    except SCIMException as exc:
        raise typer.BadParameter(str(exc)) from None
    console.print(f"{name} = {path}")


@mappings_app.command("remove")
def remove_mapping(directory_id: str, name: str, database_url: DatabaseOption = None) -> None:
    """Remove a directory's own mapping (its IdP's default, if any, applies again)."""
    engine = engine_for(database_url)
    if not attribute_mappings.remove_mapping(engine, directory_id, name):
        console.print(f"No mapping {name} of its own in that directory.")
        raise typer.Exit(1)
    console.print(f"Removed {name}.")


@schemas_app.command("list")
def list_schemas(directory_id: str, database_url: DatabaseOption = None) -> None:
    """Show the extension schemas registered for a directory."""
    engine = engine_for(database_url)
    found = extension_schemas.registered(engine, directory_id)
    table = Table("schema", "extends", "attributes", "registered")
    for each in found:
        names = ", ".join(attribute["name"] for attribute in each.definition["attributes"])
        add_row(table, each.id, each.resource_type, names, each.created_at.isoformat())
    console.print(table)


@schemas_app.command("add")
def add_schema(
    directory_id: str,
    definition: Annotated[
        str | None,
        typer.Argument(help="A JSON file holding an RFC 7643 schema definition, or - for stdin"),
    ] = None,
    urn: Annotated[str | None, typer.Option(help="The schema URN, with --attribute")] = None,
    attribute: Annotated[
        list[str] | None,
        typer.Option(help="name, name:type or name:type:multi (repeat for more)"),
    ] = None,
    extends: Annotated[str, typer.Option(help="User or Group")] = "User",
    database_url: DatabaseOption = None,
) -> None:
    """Register an extension schema: from a definition file, or from --urn and --attribute."""
    if (definition is None) == (urn is None):
        raise typer.BadParameter("give either a definition file or --urn with --attribute")
    engine = engine_for(database_url)
    try:
        if definition is not None:
            text = sys.stdin.read() if definition == "-" else Path(definition).read_text()
            payload = json.loads(text)
        else:
            payload = simple_schema(str(urn), attribute or [])
        schema = extension_schemas.register(engine, directory_id, extends, payload)
    except (OSError, ValueError, SCIMException) as exc:
        raise typer.BadParameter(str(exc)) from None
    names = ", ".join(each.name or "" for each in schema.attributes or [])
    console.print(f"Registered {schema.id} on {extends}: {names}")


@schemas_app.command("remove")
def remove_schema(directory_id: str, urn: str, database_url: DatabaseOption = None) -> None:
    """Unregister a schema; its values are removed from every resource that held them."""
    engine = engine_for(database_url)
    try:
        purged = extension_schemas.unregister(engine, directory_id, urn)
    except SCIMException as exc:
        raise typer.BadParameter(str(exc)) from None
    console.print(f"Removed {urn}; {purged} resources held values for it.")


@roles_app.command("list")
def list_role_rules(directory_id: str, database_url: DatabaseOption = None) -> None:
    """Show the directory's role rules, in priority order."""
    engine = engine_for(database_url)
    found = role_mapping.list_rules(engine, directory_id)
    table = Table("priority", "kind", "group", "role")
    table.add_column("id", no_wrap=True, min_width=36)
    for rule in found:
        add_row(table, str(rule.priority), rule.kind, rule.match, rule.role, rule.id)
    console.print(table)


@roles_app.command("add")
def add_role_rule(
    directory_id: str,
    role: str,
    group: Annotated[str | None, typer.Option(help="Group display name")] = None,
    group_id: Annotated[str | None, typer.Option(help="The IdP's id for the group")] = None,
    default: Annotated[bool, typer.Option(help="The role of users no rule matches")] = False,
    priority: Annotated[int, typer.Option(help="Lower comes first")] = 100,
    database_url: DatabaseOption = None,
) -> None:
    """Give ROLE to the members of a group (or to everyone else, with --default)."""
    choices = [
        (kind, value)
        for kind, value in (("group_name", group), ("group_external_id", group_id))
        if value
    ]
    if default:
        choices.append(("default", ""))
    if len(choices) != 1:
        raise typer.BadParameter("name exactly one of --group, --group-id or --default")
    kind, match = choices[0]
    engine = engine_for(database_url)
    rule = role_mapping.add_rule(engine, directory_id, kind, match, role, priority)
    console.print(f"Rule {rule.id}: {kind} {match!r} -> {role} (priority {priority})")


@roles_app.command("remove")
def remove_role_rule(directory_id: str, rule_id: str, database_url: DatabaseOption = None) -> None:
    """Remove a role rule; every user's roles are recomputed."""
    engine = engine_for(database_url)
    if not role_mapping.remove_rule(engine, directory_id, rule_id):
        console.print("No such rule in that directory.")
        raise typer.Exit(1)
    console.print(f"Removed {rule_id}.")


@app.command()
def drift(
    directory_id: str,
    since: Annotated[
        datetime | None, typer.Option(help="Report what the IdP has not confirmed since (UTC)")
    ] = None,
    older_than: Annotated[
        float | None, typer.Option(help="...or for longer than this many hours")
    ] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Users and groups the IdP has stopped sending: candidates for a missed deprovisioning."""
    try:
        cutoff = confirmations.drift_cutoff(since, older_than)
    except Invalid as exc:
        raise typer.BadParameter(f"{exc}: --since or --older-than") from None
    engine = engine_for(database_url)
    found = confirmations.drift_report(engine, directory_id, cutoff)
    table = Table("kind", "name", "last confirmed")
    table.add_column("id", no_wrap=True, min_width=36)
    for item in found:
        last = item.confirmed_at.isoformat(timespec="seconds") if item.confirmed_at else "never"
        add_row(table, item.kind, item.name, last, item.id)
    console.print(table)
    console.print(f"{len(found)} not confirmed since {cutoff.isoformat(timespec='seconds')}.")


@app.command()
def simulate(
    url: Annotated[str, typer.Option(help="The directory's SCIM base URL")],
    token: Annotated[str, typer.Option(help="The directory's bearer token")],
    idp: Annotated[str, typer.Option(help="Dialect: " + ", ".join(DIALECTS))] = "entra",
    users: Annotated[int, typer.Option(help="People in the simulated directory")] = 100,
    groups: Annotated[int, typer.Option(help="Groups in the simulated directory")] = 10,
    seed: Annotated[int, typer.Option(help="Varies the generated directory")] = 1,
    concurrency: Annotated[
        int,
        typer.Option(
            min=1,
            help="Requests in flight at once within a step (IdPs send about one per "
            "provisioning job; more measures capacity)",
        ),
    ] = 1,
) -> None:
    """Rehearse an identity provider: run a full provisioning lifecycle against a SCIM endpoint."""
    if idp not in DIALECTS:
        raise typer.BadParameter(f"unknown IdP {idp!r}; choose one of {', '.join(DIALECTS)}")
    population = generate(users, groups, seed=seed)
    started = time.perf_counter()
    report = lifecycle.run(url, token, DIALECTS[idp], population, concurrency)
    elapsed = time.perf_counter() - started
    table = Table("step", "requests", "failures", "req/s", "p50 ms", "p99 ms")
    for step in report.steps:
        rate = step.requests / step.seconds if step.seconds else 0.0
        add_row(
            table,
            step.name,
            str(step.requests),
            str(step.failures),
            f"{rate:.0f}",
            f"{step.p50:.1f}",
            f"{step.p99:.1f}",
        )
    console.print(table)
    for failure in report.failures[:20]:
        console.print(f"[red]FAIL[/red] {failure.step}: {failure.request}")
        if failure.status is not None:
            console.print(f"     -> {failure.status} {failure.response}")
    verdict = "passed" if report.ok else f"failed ({len(report.failures)} failures)"
    console.print(
        f"{idp} lifecycle {verdict}: {report.requests} requests in {elapsed:.1f} s "
        f"({report.requests / elapsed:.0f} requests/s)"
    )
    if not report.ok:
        raise typer.Exit(1)


report_service_errors(app)
