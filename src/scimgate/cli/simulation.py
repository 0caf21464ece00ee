"""``scimgate simulate``: rehearse an identity provider against a SCIM endpoint."""

import re
import time
from typing import Annotated

import typer
from rich.table import Table

from scimgate.cli import google_rehearsal
from scimgate.cli.common import DatabaseOption, add_row, console, settings_for
from scimgate.service.errors import ServiceError
from scimgate.service.event_stream import publishing
from scimgate.service.operations import health
from scimgate.simulator import lifecycle
from scimgate.simulator.dialects import DIALECTS
from scimgate.simulator.population import generate
from scimgate.store.engine import close_connections, database_exists, open_engine
from scimgate.store.errors import StoreError
from scimgate.wording import counted

GOOGLE_PULL = "google-pull"
"""A directory pulled from Google Workspace: rehearsed against a stand-in, in this database."""

SHOWN_FAILURES = 20
"""Failures printed one by one; the others are counted."""

DIRECTORY_IN_URL = re.compile(r"/scim/v2/([0-9a-fA-F-]{36})/?$")


def simulate(
    url: Annotated[
        str | None, typer.Option(help="The directory's SCIM base URL (not for google-pull)")
    ] = None,
    token: Annotated[
        str | None, typer.Option(help="The directory's bearer token (not for google-pull)")
    ] = None,
    idp: Annotated[
        str, typer.Option(help="Dialect: " + ", ".join([*DIALECTS, GOOGLE_PULL]))
    ] = "entra",
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
    leavers: Annotated[
        float,
        typer.Option(
            min=0,
            max=100,
            help="Percent of the people who leave (are deactivated). Above the safety "
            "valve's share (10% by default) the directory's events are held",
        ),
    ] = lifecycle.LEAVERS_PERCENT,
    database_url: DatabaseOption = None,
) -> None:
    """Rehearse an identity provider: run a full provisioning lifecycle against a SCIM endpoint.

    When the directory is in this machine's database, the run ends with the state of its
    safety valve. With --idp google-pull, a new directory of this machine's database is
    pulled from a stand-in for Google Workspace instead, step by step.
    """
    if idp == GOOGLE_PULL:
        each = max(1, round(users * leavers / 100 / 3))
        google_rehearsal.rehearse(database_url, users, groups, each)
        return
    if idp not in DIALECTS:
        choices = ", ".join([*DIALECTS, GOOGLE_PULL])
        raise typer.BadParameter(f"unknown IdP {idp!r}; choose one of {choices}")
    if url is None or token is None:
        raise typer.BadParameter(f"--url and --token name the SCIM endpoint {idp} pushes to")
    population = generate(users, groups, seed=seed)
    started = time.perf_counter()
    report = lifecycle.run(url, token, DIALECTS[idp], population, concurrency, leavers)
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
    for failure in report.failures[:SHOWN_FAILURES]:
        console.print(f"[red]FAIL[/red] {failure.step}: {failure.request}")
        if failure.status is not None:
            console.print(f"     -> {failure.status} {failure.response}")
        elif failure.response:
            console.print(f"     -> {failure.response}")
    if len(report.failures) > SHOWN_FAILURES:
        hidden = len(report.failures) - SHOWN_FAILURES
        console.print(f"... and {counted(hidden, 'more failure')} not shown")
    if report.stopped is not None:
        console.print(f"[red]Stopped:[/red] {report.stopped}. The rest was not run.")
    if report.throttled:
        console.print(
            f"The server asked to slow down {counted(report.throttled, 'time')} "
            "(429 with Retry-After); "
            f"waited {report.waited:.1f} s in all, as an IdP does."
        )
    verdict = "passed" if report.ok else f"failed ({counted(len(report.failures), 'failure')})"
    console.print(
        f"{idp} lifecycle {verdict}: {counted(report.requests, 'request')} in {elapsed:.1f} s "
        f"({report.requests / elapsed:.0f} requests/s)"
    )
    console.print(valve_state(url, database_url))
    if not report.ok:
        raise typer.Exit(1)


def valve_state(url: str, database_url: str | None) -> str:
    """What the directory's safety valve did, read from this machine's database; or how to
    see it when the directory is not there (a server elsewhere)."""
    elsewhere = (
        "Safety valve: not visible from here; where the service's database is, "
        "'scimgate held status DIRECTORY_ID' shows whether the directory's events are held."
    )
    found = DIRECTORY_IN_URL.search(url)
    settings = settings_for(database_url)
    if found is None or not database_exists(settings.database_url):
        return elsewhere
    engine = open_engine(settings.database_url, None, settings.encryption_keys)
    try:
        ready = health.readiness(engine)
        if ready.database != health.OK or ready.migrations != health.OK:
            return elsewhere
        summary = publishing.held_summary(engine, found.group(1))
    except (ServiceError, StoreError):
        return elsewhere
    finally:
        close_connections(engine)
    if summary.delivery == "live":
        return "Safety valve: not tripped; the directory's events are delivered live."
    return (
        f"[yellow]Safety valve: the directory's events are held ({summary.delivery}): "
        f"{summary.held_events} waiting for review.[/yellow] Release them in the portal or "
        f"with 'scimgate held release {summary.directory_id}'."
    )
