"""``scimgate simulate --idp google-pull``: rehearse a pulled Google Workspace directory.

A stand-in for Google Workspace (``scimgate.simulator.google_workspace``) is served
on loopback with a generated account; a new directory of this machine's database is
connected to it and synced through the same code the workers run, step by step:
the first sync (Google answering some requests with quota errors), leavers
(suspended, moved out of the scope, deleted), movers (a new title, a group left),
and a sync with nothing to do. Each step's events are read back and checked:
each change published exactly once, nothing published for nothing.
"""

import time
from collections import Counter
from datetime import UTC, datetime

import typer
from rich.table import Table
from sqlalchemy import Engine

from scimgate.cli.common import add_row, console, engine_for, to_the_second
from scimgate.config import GoogleSettings
from scimgate.records import frozen
from scimgate.scim.google_workspace import ScopeKind, SyncScope
from scimgate.service.administration import google_directories, tenants
from scimgate.service.administration.google_directories import ConnectionRequest
from scimgate.service.directory_sync.google_api import SCOPES
from scimgate.service.directory_sync.google_runs import SyncReport
from scimgate.service.event_stream import event_feed
from scimgate.simulator.google_workspace import Workspace, serving_workspace
from scimgate.store.migrate import upgrade
from scimgate.wording import counted

ADMIN = "admin@example.com"
SCOPE = "/Staff"
QUOTA_ERRORS = 3
PEEK = 10_000


@frozen
class Step:
    name: str
    report: SyncReport
    seconds: float
    published: Counter[str]
    expected: Counter[str] | None
    """The events the step must publish, when it knows them all."""

    @property
    def ok(self) -> bool:
        return self.report.error is None and (
            self.expected is None or self.published == self.expected
        )


def rehearse(database_url: str | None, users: int, groups: int, leavers: int) -> None:
    engine = engine_for(database_url)
    upgrade(engine)
    workspace = Workspace()
    workspace.add_user(ADMIN, "Ada", "Admin", is_admin=True)
    workspace.populate(users, groups, members_per_group=min(50, users), org_units=[SCOPE])
    with serving_workspace(workspace) as google:
        key = workspace.service_account_key()
        workspace.grant_delegation(key["client_id"], SCOPES)
        settings = GoogleSettings(api_url=google.url, token_url=google.token_uri)
        organization = tenants.ensure_organization(engine, "google-pull rehearsal")
        directory, _ = google_directories.create_google_directory(
            engine,
            settings,
            organization.id,
            f"Google Workspace rehearsal {to_the_second(datetime.now(UTC))}",
            ConnectionRequest(
                admin_email=ADMIN, key=key, scope=SyncScope(ScopeKind.org_units, (SCOPE,))
            ),
        )
        run = _Run(engine, settings, directory.id)
        workspace.fail_requests(QUOTA_ERRORS, status=403, reason="userRateLimitExceeded")
        steps = [run.step("first sync", None)]
        people = [user for user in workspace.users() if user.primary_email != ADMIN]
        workspace.offboard(people[: 3 * leavers])
        steps.append(
            run.step(
                "leavers",
                Counter({"user.deactivated": 2 * leavers, "user.deleted": leavers}),
                ignore=("group.user_removed",),
            )
        )
        mover = people[3 * leavers]
        workspace.update_user(mover.id, title="Director")
        group = workspace.groups()[0][0] if groups else None
        if group is not None:
            member = workspace.members(group.id)[-1]
            workspace.remove_member(group.id, member["id"])
        steps.append(
            run.step(
                "movers",
                Counter({"user.updated": 1, **({"group.user_removed": 1} if group else {})}),
            )
        )
        steps.append(run.step("nothing changed", Counter()))
    _print(steps, directory.id)


class _Run:
    def __init__(self, engine: Engine, settings: GoogleSettings, directory_id: str) -> None:
        self.engine = engine
        self.settings = settings
        self.directory_id = directory_id
        self.after = 0

    def step(self, name: str, expected: Counter[str] | None, ignore: tuple[str, ...] = ()) -> Step:
        started = time.perf_counter()
        report = google_directories.sync_here(self.engine, self.settings, self.directory_id)
        seconds = time.perf_counter() - started
        published: Counter[str] = Counter()
        while found := event_feed.peek(self.engine, self.directory_id, self.after, PEEK):
            self.after = found[-1]["sequence"]
            published.update(event["type"] for event in found if event["type"] not in ignore)
        return Step(name, report, seconds, published, expected)


def _print(steps: list[Step], directory_id: str) -> None:
    table = Table(
        "step",
        "s",
        "calls",
        "retries",
        "created",
        "updated",
        "deactivated",
        "deleted",
        "events",
        "as expected",
    )
    for step in steps:
        counts = step.report.counts
        add_row(
            table,
            step.name,
            f"{step.seconds:.1f}",
            str(counts.api_calls),
            str(counts.retries),
            str(counts.users_created + counts.groups_created),
            str(counts.users_updated + counts.groups_updated),
            str(counts.users_deactivated),
            str(counts.users_deleted + counts.groups_deleted),
            str(sum(step.published.values())),
            "yes" if step.ok else "[red]no[/red]",
        )
    console.print(table)
    failed = [step for step in steps if not step.ok]
    for step in failed:
        if step.report.error:
            console.print(f"[red]FAIL[/red] {step.name}: {step.report.error}")
        else:
            console.print(
                f"[red]FAIL[/red] {step.name}: published {dict(step.published)}, "
                f"expected {dict(step.expected or {})}"
            )
    verdict = "passed" if not failed else f"failed ({counted(len(failed), 'step')})"
    console.print(f"google-pull rehearsal {verdict}; directory {directory_id}")
    if failed:
        raise typer.Exit(1)
