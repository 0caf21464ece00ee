"""Scale-out on PostgreSQL: the same load on 1, 2 and 4 server processes sharing one database.

Starts ``scimgate serve --workers N --no-worker`` on a new PostgreSQL database
for N = 1, 2 and 4, and drives each with wrk from the suite's load generator at
16 connections: creates with unique userNames spread in turn over 8
directories (``bench/wrk/create_users_spread.lua``), then ``userName eq``
lookups that find nobody (an initial sync's existence checks). Prints
requests/s per process count and each count's ratio to one process.

It also measures the CPU a create costs: the server processes' CPU time over
the creates, plus that of the PostgreSQL backends serving the run's database,
plus that of the backends that ended during the run (a connection a server's
pool opened and closed again: PostgreSQL's postmaster waits for each, and
``/proc/<pid>/stat`` adds its CPU time to the postmaster's ``cutime`` and
``cstime``), plus that of PostgreSQL's own processes, which serve every
database (the WAL writer, the checkpointer, the background writer,
autovacuum; ``pg_stat_activity`` gives the pids, ``/proc/<pid>/stat`` their
CPU time). The last two are counted whole, as the run's: on a machine that
runs the bench alone, nothing else gives them work. Counting only the
backends alive at the end, as runs before did, missed most of PostgreSQL's
part when connections came and went: 60-90 µs a create against 740-1,250 in
all, in four runs of one process.
The same creates on SQLite with one process give the figure to compare with.
During each load it reads how busy the whole machine was (``/proc/stat``) and
how many cores the server processes used: one process's idle share bounds what
a second can add. It also tells where the server processes' CPU went: the
kernel's share of it, and how many times their threads were switched off a core
per request (``/proc/<pid>/task/*/status``), which is what a request handed
between threads costs. Beside wrk's p99 it reports the p99 and the longest of
the latencies the server measured itself (``server_latencies_ms``), so that a
tail can be told to be the server's handling of requests or time spent around it.

On a 2-core machine wrk and PostgreSQL share the cores with the servers, so
the ratios show how much another process still finds to do, not what another
machine would add. Results go to ``bench/results/scaling.{json,md}`` (or
``--results``).

    python bench/scaling.py [--seconds 15] [--processes 1,2,4] [--results DIR]
"""

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
from load import LoadResult, Request, Shape, run_wrk
from measurements import percentile
from seed import POSTGRES_DSN, empty_database, postgresql_database
from servers import (
    BenchDirectory,
    Server,
    context_switches,
    cpu_seconds,
    ended_children_cpu_seconds,
    kernel_cpu_seconds,
    machine_cpu_seconds,
    new_directories,
    parent_pid,
    peak_rss_mib,
    scimgate_server,
    settled,
    tree_cpu_seconds,
    tree_sum,
)
from sqlalchemy import create_engine, text
from sync_workloads import activate, scim_root

RESULTS = Path(__file__).with_name("results")
PROCESSES = (1, 2, 4)
DIRECTORIES = 8
LOOKUPS = 5_000
CONNECTIONS = 16
MISSING_NAME = "absent"
"""How the userNames the lookups look for, which nobody has, begin."""


def measure(url: str, processes: int, seconds: float, backend_cpu: bool) -> dict[str, float]:
    """Creates over 8 directories, then lookups, on ``processes`` server processes at ``url``."""
    shape = Shape(threads=2, connections=CONNECTIONS, seconds=seconds)
    made = new_directories(url, DIRECTORIES, name=f"scaling {processes}")
    label = f"scimgate ({processes} process{'es' if processes > 1 else ''})"
    with scimgate_server(url, made[0], label=label, processes=processes, pinned=False) as server:
        root = scim_root(server)
        activate([f"{root}/scim/v2/{each.directory_id}" for each in made], made)
        settled(server.pid)
        database_before = postgresql_cpu(url, backend_cpu)
        with Busy(server.pid) as creating:
            creates = spread_creates(server, made, shape)
        database_after = postgresql_cpu(url, backend_cpu)
        with Busy(server.pid) as looking_up:
            lookups = run_wrk(
                server,
                "requests",
                shape=shape,
                expected=[200],
                requests=misses(),
                cycle=True,
                pinned=False,
            )
        memory = peak_rss_mib(server.pid)
    for name, result in (("creates", creates), ("lookups", lookups)):
        if result.failed:
            raise RuntimeError(f"{label}, {name}: {result.failure()}")
    figures = {
        "creates_per_s": creates.requests / creates.seconds,
        "creates_p99_ms": creates.p99_ms,
        "lookups_per_s": lookups.requests / lookups.seconds,
        "lookups_p99_ms": lookups.p99_ms,
        "peak_rss_mib": memory,
        "server_cpu_us_per_create": 1e6 * creating.server_seconds / creates.requests,
        "server_cpu_us_per_lookup": 1e6 * looking_up.server_seconds / lookups.requests,
        "creates_machine_busy": creating.machine_share,
        "creates_server_cores": creating.server_cores,
        "lookups_machine_busy": looking_up.machine_share,
        "lookups_server_cores": looking_up.server_cores,
        "creates_server_kernel_share": creating.server_kernel_seconds / creating.server_seconds,
        "lookups_server_kernel_share": looking_up.server_kernel_seconds / looking_up.server_seconds,
        "server_switches_per_create": creating.server_switches / creates.requests,
        "server_switches_per_lookup": looking_up.server_switches / lookups.requests,
    }
    for name, latencies in server_latencies_ms(url).items():  # the server has stopped
        if latencies:
            figures[f"{name}_server_p99_ms"] = percentile(latencies, 0.99)
            figures[f"{name}_server_max_ms"] = max(latencies)
    if backend_cpu:
        backends, ended, shared = (
            _delta(database_after[part], database_before[part])
            for part in ("backends", "ended", "shared")
        )
        figures["database_cpu_us_per_create"] = 1e6 * (backends + ended) / creates.requests
        figures["ended_cpu_us_per_create"] = 1e6 * ended / creates.requests
        figures["shared_cpu_us_per_create"] = 1e6 * shared / creates.requests
    return figures


class Busy:
    """How busy the machine and the server processes were while the block ran."""

    machine_share: float
    """The share of all the machine's cores that was busy: 1.0 is every core all along."""
    server_seconds: float
    """CPU seconds the server processes used."""
    server_cores: float
    """The same, in cores: CPU seconds per second."""
    server_kernel_seconds: float
    """The part of ``server_seconds`` spent in the kernel."""
    server_switches: int
    """How many times the server processes' threads were switched off a core."""

    def __init__(self, server_pid: int) -> None:
        self._pid = server_pid

    def __enter__(self) -> "Busy":
        self._began = time.monotonic()
        self._server = tree_cpu_seconds(self._pid)
        self._kernel = tree_sum(self._pid, kernel_cpu_seconds)
        self._switches = tree_sum(self._pid, context_switches)
        self._machine = machine_cpu_seconds()
        return self

    def __exit__(self, *_: object) -> None:
        busy, total = machine_cpu_seconds()
        self.server_seconds = tree_cpu_seconds(self._pid) - self._server
        self.server_kernel_seconds = tree_sum(self._pid, kernel_cpu_seconds) - self._kernel
        self.server_switches = int(tree_sum(self._pid, context_switches) - self._switches)
        self.server_cores = self.server_seconds / (time.monotonic() - self._began)
        self.machine_share = (busy - self._machine[0]) / (total - self._machine[1])


def spread_creates(server: Server, made: list[BenchDirectory], shape: Shape) -> LoadResult:
    """Creates in turn in each directory, each with its own token, through the server's root."""
    directories = ",".join(f"{each.directory_id} {each.token}" for each in made)
    at_root = replace(server, base_url=scim_root(server), headers={})
    return run_wrk(
        at_root,
        "create_users_spread",
        shape=shape,
        expected=[201],
        run_id="scaling",
        script_env={"BENCH_DIRECTORIES": directories},
        pinned=False,
    )


def misses() -> list[Request]:
    return [
        Request("GET", f"/Users?filter=userName%20eq%20%22{MISSING_NAME}{n}%40scaling.example%22")
        for n in range(LOOKUPS)
    ]


def server_latencies_ms(url: str) -> dict[str, list[int]]:
    """The latencies the server measured itself, in ms, as its provisioning log keeps them:
    from a request's arrival in the SCIM pipeline to the end of its answer handed on for
    sending; the creates' and the lookups' (not the directories' first requests). Where wrk's
    p99 is far above the server's, the time was spent outside the server's handling of the
    request: before the application took it up or after it answered, in the kernel, or in
    wrk. Read once the server has stopped, its log written to the last entry."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT method, latency_ms FROM provisioning_logs "
                    "WHERE method = 'POST' OR query LIKE :lookups"
                ),
                {"lookups": f"%{MISSING_NAME}%"},
            ).all()
    finally:
        engine.dispose()
    found: dict[str, list[int]] = {"creates": [], "lookups": []}
    for method, latency_ms in rows:
        found["creates" if method == "POST" else "lookups"].append(int(latency_ms))
    return found


def postgresql_cpu(url: str, wanted: bool) -> dict[str, dict[int, float]]:
    """CPU seconds so far of each PostgreSQL process that works for ``url``'s database, by
    pid: ``backends``, the client backends connected to it; ``shared``, PostgreSQL's own
    processes (WAL writer, checkpointer, background writer, autovacuum), which work for
    every database; ``ended``, the processes that have ended, under the postmaster's pid.
    All empty unless ``wanted``."""
    found: dict[str, dict[int, float]] = {"backends": {}, "shared": {}, "ended": {}}
    if not wanted:
        return found
    database = url.rsplit("/", 1)[1]
    with psycopg.connect(f"{POSTGRES_DSN} dbname=postgres") as conn:
        rows = conn.execute(
            "SELECT pid, backend_type = 'client backend' FROM pg_stat_activity "
            "WHERE datname = %s OR backend_type <> 'client backend'",
            (database,),
        ).fetchall()
    for pid, is_client in rows:
        try:
            found["backends" if is_client else "shared"][int(pid)] = cpu_seconds(int(pid))
        except OSError:  # a process that ended meanwhile, or one on another machine
            continue
    for pid in found["shared"]:
        try:
            postmaster = parent_pid(pid)
            found["ended"][postmaster] = ended_children_cpu_seconds(postmaster)
            break
        except OSError:
            continue
    return found


def _delta(after: dict[int, float], before: dict[int, float]) -> float:
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def run_all(processes: tuple[int, ...], seconds: float) -> dict[str, Any]:
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    results: dict[str, Any] = {"postgresql": {}, "sqlite": {}}
    for count in processes:
        with postgresql_database() as url:
            results["postgresql"][count] = measure(url, count, seconds, backend_cpu=True)
    with empty_database("sqlite") as url:
        results["sqlite"][1] = measure(url, 1, seconds, backend_cpu=False)
    return results


def report(results: dict[str, Any]) -> str:
    postgresql = results["postgresql"]
    one = postgresql[min(postgresql)]
    lines = [
        f"PostgreSQL: creates spread over {DIRECTORIES} directories, and lookups, "
        f"{CONNECTIONS} connections",
        "",
        "| server processes | creates/s | vs 1 | p99 | lookups/s | vs 1 | p99 | "
        "CPU per create: server + PostgreSQL's backends (those that ended) + its shared "
        "processes = total "
        "| peak RSS (all processes) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for count, figures in sorted(postgresql.items()):
        server_us, database_us, shared_us = (
            figures["server_cpu_us_per_create"],
            figures["database_cpu_us_per_create"],
            figures["shared_cpu_us_per_create"],
        )
        total_us = server_us + database_us + shared_us
        lines.append(
            f"| {count} | {figures['creates_per_s']:,.0f} "
            f"| {figures['creates_per_s'] / one['creates_per_s']:.2f}x "
            f"| {figures['creates_p99_ms']:.1f} ms "
            f"| {figures['lookups_per_s']:,.0f} "
            f"| {figures['lookups_per_s'] / one['lookups_per_s']:.2f}x "
            f"| {figures['lookups_p99_ms']:.1f} ms "
            f"| {server_us:,.0f} + {database_us:,.0f} ({figures['ended_cpu_us_per_create']:,.0f})"
            f" + {shared_us:,.0f} = {total_us:,.0f} µs "
            f"| {figures['peak_rss_mib']:.0f} MiB |"
        )
    lines += [
        "",
        "Latency as wrk saw it, and as the server measured it (its provisioning log: from a "
        "request's arrival in the SCIM pipeline to its answer):",
        "",
        "| server processes | creates: wrk's p99 | server's p99 | server's longest "
        "| lookups: wrk's p99 | server's p99 | server's longest |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for count, figures in sorted(postgresql.items()):
        lines.append(
            f"| {count} | "
            + " | ".join(
                f"{figures[f'{name}_p99_ms']:.1f} ms "
                f"| {_ms(figures.get(f'{name}_server_p99_ms'))} "
                f"| {_ms(figures.get(f'{name}_server_max_ms'))}"
                for name in ("creates", "lookups")
            )
            + " |"
        )
    lines += [
        "",
        "How busy the machine was (all its cores, wrk and PostgreSQL included) and the server "
        "processes (in cores):",
        "",
        "| server processes | creates: machine busy | server cores | lookups: machine busy "
        "| server cores | server CPU per lookup |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for count, figures in sorted(postgresql.items()):
        lines.append(
            f"| {count} | {figures['creates_machine_busy']:.0%} "
            f"| {figures['creates_server_cores']:.2f} "
            f"| {figures['lookups_machine_busy']:.0%} "
            f"| {figures['lookups_server_cores']:.2f} "
            f"| {figures['server_cpu_us_per_lookup']:,.0f} µs |"
        )
    lines += [
        "",
        "Where the server processes' CPU went: the kernel's share of it, and how many times "
        "their threads were switched off a core, per request:",
        "",
        "| backend, server processes | creates: kernel | switches per create "
        "| lookups: kernel | switches per lookup |",
        "|---|---:|---:|---:|---:|",
    ]
    backends = [("PostgreSQL", postgresql), ("SQLite", results["sqlite"])]
    for backend, runs in backends:
        for count, figures in sorted(runs.items()):
            lines.append(
                f"| {backend}, {count} | {figures['creates_server_kernel_share']:.0%} "
                f"| {figures['server_switches_per_create']:.1f} "
                f"| {figures['lookups_server_kernel_share']:.0%} "
                f"| {figures['server_switches_per_lookup']:.1f} |"
            )
    lines += [
        "",
        "If a request's CPU stays what it was, a second process can add at most the machine's "
        f"idle share: from 1 process, creates could scale at most "
        f"{1 / one['creates_machine_busy']:.2f}x, lookups {1 / one['lookups_machine_busy']:.2f}x.",
    ]
    sqlite = results["sqlite"][1]
    lines += [
        "",
        f"SQLite, 1 process, the same creates: {sqlite['creates_per_s']:,.0f}/s, "
        f"CPU per create {sqlite['server_cpu_us_per_create']:,.0f} µs (the server; SQLite runs "
        "inside it).",
    ]
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--processes", default=",".join(map(str, PROCESSES)))
    parser.add_argument("--results", type=Path, default=RESULTS)
    arguments = parser.parse_args()
    processes = tuple(int(n) for n in arguments.processes.split(","))
    results = run_all(processes, arguments.seconds)
    table = report(results)
    print(table)
    arguments.results.mkdir(parents=True, exist_ok=True)
    (arguments.results / "scaling.md").write_text(table + "\n")
    (arguments.results / "scaling.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
