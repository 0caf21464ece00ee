"""``scimgate simulate``: rehearse an identity provider against a SCIM endpoint."""

import time
from typing import Annotated

import typer
from rich.table import Table

from scimgate.cli.common import add_row, console
from scimgate.simulator import lifecycle
from scimgate.simulator.dialects import DIALECTS
from scimgate.simulator.population import generate


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
    if report.throttled:
        console.print(
            f"The server asked to slow down {report.throttled} times (429 with Retry-After); "
            f"waited {report.waited:.1f} s in all, as an IdP does."
        )
    verdict = "passed" if report.ok else f"failed ({len(report.failures)} failures)"
    console.print(
        f"{idp} lifecycle {verdict}: {report.requests} requests in {elapsed:.1f} s "
        f"({report.requests / elapsed:.0f} requests/s)"
    )
    if not report.ok:
        raise typer.Exit(1)
