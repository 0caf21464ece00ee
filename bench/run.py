"""The benchmark suite, in one command: scimgate, the reference peer and the ceiling, side by side.

    .venv/bin/python bench/run.py [--quick] [--backend sqlite|postgresql|both] [--skip-peer]
                                  [--only W1,W3] [--big-size 1000000] [--pairs 3]

Starts each server in turn, drives it with wrk (``bench/load.py``), and prints
one table with the ratios of scimgate (SQLite) to scim2-server and to a bare
ASGI app, then the targets, then the change since the previous run. Results
are written to ``bench/results/latest.json`` and ``latest.md``. See
``bench/README.md`` for what each workload sends.
"""

import argparse
import json
import secrets
import sys
import time
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import breakdown
from ceiling import ceiling_server
from load import WrkMissing, ensure_wrk
from measurements import Measurement
from report import POSTGRESQL, RSS_WORKLOAD, SQLITE, Report, Sizes, write
from rich.console import Console
from seed import (
    Seed,
    SeedSpec,
    empty_database,
    postgresql_reachable,
    seeded_postgresql,
    seeded_sqlite,
    user_name,
)
from servers import Server, children, new_directories, peak_rss_mib, scimgate_server
from turns import Turns, in_turns, initial_sync_speed
from w1_profile import ProfileUnavailable, finish, launcher, recording, stop_launched
from workloads import (
    W1_CASE,
    GroupSet,
    Population,
    Settings,
    lookup_case,
    w1_create_users,
    w2_lookups,
    w2_profile_updates,
    w3_pages,
    w3_sweep,
    w4_membership,
)

from scimgate.store.encryption import new_key_line

RESULTS = Path(__file__).with_name("results")
WORKLOADS = ("W1", "W2", "W3", "W4", "W5", "W6", "W7")
GROUP_SIZES = (0, 1_000, 10_000, 100_000)
QUICK_GROUP_SIZES = (0, 10, 100, 1_000)
PEER = "scim2-server"
"""The peer's server name in the measurements."""

PEER_GROUP_LIMIT = 10_000
"""The peer's W4 stops here: it rewrites a group's whole member list on every change."""

PEER_SLOW_GROUP_REQUESTS = 10
"""Requests per W4 case for the peer's largest group, where each takes over a second."""

PEER_SEEDING_BUDGET_S = 120
"""The peer is measured at the big size only if seeding it should take less than this."""


@dataclass(frozen=True)
class Plan:
    """Everything a run's options decide."""

    settings: Settings
    small_users: int
    big_users: int
    group_sizes: tuple[int, ...]
    workloads: frozenset[str]
    backends: tuple[str, ...]
    with_peer: bool
    quick: bool
    results: Path = RESULTS
    profile: bool = True
    """Record a py-spy profile of a second W1 run on SQLite (not the measured one)."""

    profile_launch: bool = False
    """Start the profiled server under py-spy rather than attaching to it."""

    breakdown: bool = True
    pairs: int = 3
    """Pairs of runs of W1, of W2's lookups and of W5's RFC-dialect sync taken in turns with
    the peer (``bench/turns.py``); 0 for none."""

    def wants(self, *workloads: str) -> bool:
        return any(workload in self.workloads for workload in workloads)

    def big_spec(self) -> SeedSpec:
        """The same whatever the workloads asked, so that every run shares one cached file."""
        return SeedSpec(self.big_users, self.group_sizes, self.settings.latency_requests)

    def small_spec(self) -> SeedSpec:
        return SeedSpec(self.small_users)


@dataclass
class Run:
    """What a run has measured so far, and what it had to leave out."""

    plan: Plan
    console: Console
    measurements: list[Measurement]
    notes: list[str]
    extras: dict[str, Any] = field(default_factory=dict)
    """Beside the table: the per-stage breakdown and the W1 profile's summary."""

    incomplete: int = 0
    """Parts of the suite that broke off (a server that did not start, a wrong answer)."""

    def add(self, found: list[Measurement]) -> None:
        for m in found:
            shown = f"{m.throughput:,.1f}/s" if m.requests else "-"
            failed = f"  FAILED: {m.notes.get('failure')}" if m.notes.get("failed") else ""
            p50 = f"p50 {m.p50_ms:.2f} ms" if m.p50_ms is not None else ""
            line = f"  {m.workload} {m.case} [{m.server}]: {shown} {p50}{failed}"
            self.console.print(line, markup=False)
        self.measurements += found

    def note(self, text: str) -> None:
        self.console.print(f"[yellow]note:[/yellow] {text}")
        self.notes.append(text)

    def attempt(self, what: str, step: Callable[[], None]) -> None:
        """Run one part of the suite; if it breaks, say so and go on with the rest."""
        self.console.print(f"[bold]{what}[/bold]")
        try:
            step()
        except Exception as error:  # one broken server or workload must not lose the others
            traceback.print_exc()
            self.incomplete += 1
            first_line = (str(error).splitlines() or [""])[0]
            self.note(f"{what} did not complete: {type(error).__name__}: {first_line}")


def parse_plan(argv: list[str] | None) -> tuple[Plan, Path, list[str]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, short runs (smoke test)")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"))
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--only", help="comma-separated workloads, e.g. W1,W3")
    parser.add_argument("--big-size", type=int, help="users of the big directory (1,000,000)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to write results")
    parser.add_argument("--no-profile", action="store_true", help="no py-spy profile of W1")
    parser.add_argument(
        "--profile-launch",
        action="store_true",
        help="start the profiled server under py-spy instead of attaching to it",
    )
    parser.add_argument(
        "--no-breakdown", action="store_true", help="no per-stage CPU breakdown of a request"
    )
    parser.add_argument(
        "--pairs",
        type=int,
        default=3,
        help="pairs of W1, W2 lookup and W5 RFC-dialect runs in turns with scim2-server (0: none)",
    )
    options = parser.parse_args(argv)
    notes: list[str] = []
    workloads = frozenset(
        name.strip().upper() for name in (options.only or ",".join(WORKLOADS)).split(",")
    )
    unknown = workloads - set(WORKLOADS)
    if unknown:
        parser.error(f"unknown workloads: {', '.join(sorted(unknown))}")
    big = options.big_size or (5_000 if options.quick else 1_000_000)
    settings = (
        Settings(throughput_seconds=1, latency_requests=10, walk_pages=3, cold_jumps=2)
        if options.quick
        else Settings(throughput_seconds=10, latency_requests=200, walk_pages=20, cold_jumps=10)
    )
    wanted_groups = QUICK_GROUP_SIZES if options.quick else GROUP_SIZES
    groups = tuple(size for size in wanted_groups if size + settings.latency_requests <= big)
    if groups != wanted_groups:
        notes.append(f"W4 group sizes limited to {groups} by a big size of {big:,} users")
    plan = Plan(
        settings=settings,
        small_users=1_000 if options.quick else 10_000,
        big_users=big,
        group_sizes=groups,
        workloads=workloads,
        backends=choose_backends(options.backend, notes),
        with_peer=not options.skip_peer,
        quick=options.quick,
        results=options.results,
        profile=not options.no_profile,
        profile_launch=options.profile_launch,
        breakdown=not options.no_breakdown,
        pairs=max(options.pairs, 0),
    )
    return plan, options.results, notes


def choose_backends(asked: str | None, notes: list[str]) -> tuple[str, ...]:
    if asked == "sqlite":
        return ("sqlite",)
    reachable = postgresql_reachable()
    if asked is None and not reachable:
        notes.append("PostgreSQL does not answer at 127.0.0.1:5432: SQLite only")
        return ("sqlite",)
    if not reachable:
        raise SystemExit("PostgreSQL does not answer at 127.0.0.1:5432")
    return ("postgresql",) if asked == "postgresql" else ("sqlite", "postgresql")


# The ceiling


def measure_ceiling(run: Run) -> None:
    plan = run.plan
    with ceiling_server() as server:
        if plan.wants("W1"):
            run.add([w1_create_users(server, plan.settings, "ceiling")])
        if plan.wants("W2"):
            looked_up = w2_lookups(server, Population(plan.small_users, user_name), plan.settings)
            # The ceiling answers the same whatever the size: one run stands for both rows.
            same = replace(looked_up, case=lookup_case(plan.big_users))
            run.add([looked_up, same])
        for users in (plan.small_users, plan.big_users) if plan.wants("W3") else ():
            run.add(w3_pages(server, Population(users, user_name), plan.settings))
        if plan.wants("W3"):
            run.add([w3_sweep(server, Population(plan.small_users, user_name))])
        if plan.wants("W4"):
            groups = GroupSet({size: "ceiling" for size in plan.group_sizes}, ["member"] * 1_000)
            run.add(w4_membership(server, groups, plan.settings, plan.group_sizes))


# scimgate


def label(backend: str) -> str:
    return SQLITE if backend == "sqlite" else POSTGRESQL


def seeded(backend: str, spec: SeedSpec) -> AbstractContextManager[tuple[str, Seed]]:
    return seeded_sqlite(spec) if backend == "sqlite" else seeded_postgresql(spec)


def measure_scimgate(run: Run, backend: str) -> None:
    plan = run.plan
    name = label(backend)
    if plan.wants("W1"):
        run.attempt(f"{name}: W1", lambda: _scimgate_w1(run, backend))
    if plan.wants("W2", "W3"):
        run.attempt(f"{name}: {plan.small_users:,} users", lambda: _scimgate_small(run, backend))
    if plan.wants("W2", "W3", "W4"):
        run.attempt(f"{name}: {plan.big_users:,} users", lambda: _scimgate_big(run, backend))
    if plan.wants("W5", "W6", "W7") and backend == plan.backends[0]:
        run.attempt(f"{name}: W5-W7", lambda: _sync_workloads(run, backend))


def _scimgate_w1(run: Run, backend: str) -> None:
    with empty_database(backend) as url:
        directory = new_directories(url)[0]
        with scimgate_server(url, directory, label=label(backend)) as server:
            run.add([w1_create_users(server, run.plan.settings, secrets.token_hex(4))])
    if backend == "sqlite":
        run.attempt(f"{label(backend)}: W1, encryption at rest", lambda: _encrypted_w1(run))
        if run.plan.profile:
            run.attempt(f"{label(backend)}: W1 profile (py-spy)", lambda: _profiled_w1(run))


ENCRYPTED_W1_CASE = f"{W1_CASE}, encryption at rest on"


def _encrypted_w1(run: Run) -> None:
    """W1 again with ``SCIMGATE_ENCRYPTION_KEYS`` set: what encryption at rest costs a create."""
    keys = {"SCIMGATE_ENCRYPTION_KEYS": new_key_line("bench")}
    with empty_database("sqlite") as url:
        directory = new_directories(url)[0]
        with scimgate_server(url, directory, label=SQLITE, extra_env=keys) as server:
            measured = w1_create_users(server, run.plan.settings, secrets.token_hex(4))
    run.add([replace(measured, case=ENCRYPTED_W1_CASE)])


def _profiled_w1(run: Run) -> None:
    """A second W1 run on SQLite, sampled by py-spy; its numbers are not the table's.

    py-spy attaches to the running server; where that is refused, the server is started
    again under py-spy.
    """
    for launched in (True,) if run.plan.profile_launch else (False, True):
        try:
            raw = _w1_sampled(run, launched=launched)
        except ProfileUnavailable as refused:
            instead = "" if launched else "; the server runs under py-spy instead"
            run.note(f"W1 profile: {refused}{instead}")
            continue
        run.extras["profile"] = finish(raw)
        return
    run.extras["profile"] = {"error": "py-spy could not sample the server (see the notes)"}


def _w1_sampled(run: Run, *, launched: bool) -> Path:
    with empty_database("sqlite") as url:
        directory = new_directories(url)[0]
        prefix, raw = launcher(run.plan.results) if launched else ((), run.plan.results)
        with scimgate_server(url, directory, label=SQLITE, launcher=prefix) as server:
            if launched:
                w1_create_users(server, run.plan.settings, secrets.token_hex(4))
                stop_launched(server.pid, raw, children(server.pid))
                return raw
            with recording(server.pid, run.plan.results) as raw:
                w1_create_users(server, run.plan.settings, secrets.token_hex(4))
            return raw


def measure_breakdown(run: Run) -> None:
    """µs of CPU per stage of a create and of a lookup, and per request of W5's Entra sync, in
    this process, each on a new SQLite file."""
    rounds, per_round = (3, 50) if run.plan.quick else (5, 200)
    with empty_database("sqlite") as url:
        found = breakdown.measure(url, rounds, per_round)
    run.extras["breakdown"] = [each.as_json() for each in found]
    with empty_database("sqlite") as url:
        sync = breakdown.measure_sync(url, rounds, per_round)
    run.extras["sync_requests"] = [asdict(each) for each in sync]


def _scimgate_small(run: Run, backend: str) -> None:
    plan = run.plan
    with (
        seeded(backend, plan.small_spec()) as (url, seed),
        scimgate_at(url, seed, backend) as server,
    ):
        _lookups_and_pages(run, server, Population(seed.users, user_name))
        if plan.wants("W2"):
            run.add([w2_profile_updates(server, Population(seed.users, user_name), plan.settings)])
    if plan.wants("W3"):
        with (
            seeded(backend, plan.small_spec()) as (url, seed),
            scimgate_at(url, seed, backend) as server,
        ):
            run.add([w3_sweep(server, Population(seed.users, user_name))])


def _scimgate_big(run: Run, backend: str) -> None:
    plan = run.plan
    with seeded(backend, plan.big_spec()) as (url, seed), scimgate_at(url, seed, backend) as server:
        _lookups_and_pages(run, server, Population(seed.users, user_name))
        if plan.wants("W2", "W3"):
            run.add([stored_rss(server, seed.users, "W2 and W3")])
        if plan.wants("W4"):
            groups = GroupSet(seed.group_ids, seed.spare_user_ids)
            run.add(w4_membership(server, groups, plan.settings, plan.group_sizes))
            if not plan.wants("W2", "W3"):
                run.add([stored_rss(server, seed.users, "W4")])


def scimgate_at(url: str, seed: Seed, backend: str) -> AbstractContextManager[Server]:
    return scimgate_server(url, seed.directory, label=label(backend))


def _lookups_and_pages(run: Run, server: Server, population: Population) -> None:
    if run.plan.wants("W2"):
        run.add([w2_lookups(server, population, run.plan.settings)])
    if run.plan.wants("W3"):
        run.add(w3_pages(server, population, run.plan.settings))


def stored_rss(server: Server, users: int, after: str) -> Measurement:
    return Measurement(
        workload=RSS_WORKLOAD,
        case=f"peak RSS, {users:,} users stored, after {after}",
        server=server.name,
        requests=0,
        seconds=0,
        peak_rss_mib=peak_rss_mib(server.pid),
        notes={"kind": "memory"},
    )


QUICK_SYNC_SIZES = {
    "W5": {"users": 200, "groups": 10},
    "W6": {"directories": 5, "seconds": 2},
    "W7": {"events": 200},
}
"""Arguments of the W5 to W7 functions under ``--quick`` (their defaults otherwise)."""


def _sync_workloads(run: Run, backend: str) -> None:
    sync = optional_module("sync_workloads")
    if sync is None:
        run.note("bench/sync_workloads.py is not there: W5-W7 not measured")
        return
    functions = {"W5": sync.w5_initial_sync, "W6": sync.w6_fairness, "W7": sync.w7_webhooks}
    for workload, function in functions.items():
        if run.plan.wants(workload):
            arguments = QUICK_SYNC_SIZES[workload] if run.plan.quick else {}
            measure = partial(function, label=label(backend), **arguments)
            run.attempt(
                f"{label(backend)}: {workload}", partial(_in_new_database, run, backend, measure)
            )


def _in_new_database(run: Run, backend: str, step: Callable[[str], list[Measurement]]) -> None:
    with empty_database(backend) as url:
        run.add(step(url))


# The peer


def measure_peer(run: Run, peer: ModuleType) -> None:
    plan = run.plan
    if plan.wants("W1"):
        with peer.scim2_server() as server:
            run.add([w1_create_users(server, plan.settings, secrets.token_hex(4))])
    if plan.wants("W5"):
        run.attempt("scim2-server: W5", lambda: _peer_w5(run, peer))
    if not plan.wants("W2", "W3", "W4"):
        return
    with peer.scim2_server() as server:
        started = time.monotonic()
        user_ids = peer.seed_users(server, plan.small_users)
        rate = plan.small_users / (time.monotonic() - started)
        population = Population(plan.small_users, peer.user_name)
        _lookups_and_pages(run, server, population)
        if plan.wants("W2"):
            run.add([w2_profile_updates(server, population, plan.settings)])
        if plan.wants("W3"):
            run.add([w3_sweep(server, population)])
        if plan.wants("W4"):
            run.attempt("scim2-server: W4", lambda: _peer_groups(run, peer, server, user_ids))
    if plan.wants("W2", "W3"):
        run.attempt("scim2-server: big size", lambda: _peer_big(run, peer, rate))


WARM_UP = Settings(throughput_seconds=2, latency_requests=0, walk_pages=0, cold_jumps=0)
"""A short run on each server before W1's and W2's turns, not kept: else a new server's first
seconds (statements prepared, caches filled) fall on the first pair's first run alone."""


def measure_turns(run: Run, peer: ModuleType) -> None:
    """W1, W2's lookups at the small size and W5's initial sync in the RFC dialect, on scimgate
    (SQLite) and the peer in turns (``bench/turns.py``): the ratios the targets read."""
    plan = run.plan
    settings = plan.settings
    if plan.wants("W1"):
        run_id = secrets.token_hex(4)
        with empty_database("sqlite") as url:
            directory = new_directories(url)[0]
            with (
                scimgate_server(url, directory, label=SQLITE) as ours,
                peer.scim2_server() as theirs,
            ):
                for server in (ours, theirs):
                    w1_create_users(server, WARM_UP, f"{run_id}w{server.pid}")
                taken = in_turns(
                    lambda turn: w1_create_users(ours, settings, f"{run_id}o{turn}"),
                    lambda turn: w1_create_users(theirs, settings, f"{run_id}p{turn}"),
                    plan.pairs,
                )
        _keep_turns(run, taken)
    if plan.wants("W2"):
        with (
            seeded("sqlite", plan.small_spec()) as (url, seed),
            scimgate_at(url, seed, "sqlite") as ours,
            peer.scim2_server() as theirs,
        ):
            peer.seed_users(theirs, plan.small_users)
            populations = {
                ours.pid: Population(seed.users, user_name),
                theirs.pid: Population(plan.small_users, peer.user_name),
            }
            for server in (ours, theirs):
                w2_lookups(server, populations[server.pid], WARM_UP)
            taken = in_turns(
                lambda _: w2_lookups(ours, populations[ours.pid], settings),
                lambda _: w2_lookups(theirs, populations[theirs.pid], settings),
                plan.pairs,
            )
        _keep_turns(run, taken)
    sync = optional_module("sync_workloads")
    if plan.wants("W5") and sync is not None:
        _keep_turns(run, _w5_in_turns(run, peer, sync))


def _w5_in_turns(run: Run, peer: ModuleType, sync: ModuleType) -> Turns:
    """W5's initial sync in the RFC dialect at 8 in flight, each turn on a new server (scimgate's
    checked as the suite's run is: what its directory holds after the lifecycle)."""
    sizes = QUICK_SYNC_SIZES["W5"] if run.plan.quick else {"users": 10_000, "groups": 200}
    idp, concurrency = sync.RFC_DIALECT, sync.CAPACITY_CONCURRENCY

    def ours(_: int) -> Measurement:
        with empty_database("sqlite") as url:
            synced = sync.w5_initial_sync(url, SQLITE, runs=((idp, concurrency),), **sizes)
        measured: Measurement = synced[0]
        return measured

    def theirs(_: int) -> Measurement:
        with peer.scim2_server() as server:
            token = server.headers["Authorization"].split(" ", 1)[1]
            return sync.w5_against(server, token, concurrency=concurrency, idp=idp, **sizes)

    return in_turns(ours, theirs, run.plan.pairs, initial_sync_speed)


def _keep_turns(run: Run, taken: Turns) -> None:
    run.extras.setdefault("turns", []).append(taken.as_json())
    shown = ", ".join(f"{value:.2f}x" for value in taken.ratios()) or "none measured in full"
    run.console.print(f"  {taken.workload} in turns, scimgate over scim2-server by pair: {shown}")


def _peer_w5(run: Run, peer: ModuleType) -> None:
    """The same simulated initial sync against the peer, a new peer per concurrency."""
    sync = optional_module("sync_workloads")
    if sync is None:
        return
    sizes = QUICK_SYNC_SIZES["W5"] if run.plan.quick else {"users": 10_000, "groups": 200}
    for idp, concurrency in sync.PEER_W5_RUNS:
        with peer.scim2_server() as server:
            token = server.headers["Authorization"].split(" ", 1)[1]
            measured = sync.w5_against(server, token, concurrency=concurrency, idp=idp, **sizes)
        run.add([measured])
        if measured.notes["failed_steps"]:
            run.note(
                f"scim2-server W5 ({idp}, {concurrency} in flight) answered requests of the "
                "lifecycle otherwise than expected, by step: "
                f"{measured.notes['failed_steps']}; the first: "
                f"{json.dumps(measured.notes['first_failures'][:1])[:400]}"
            )


def _peer_groups(run: Run, peer: ModuleType, server: Server, user_ids: list[str]) -> None:
    """W4 on the peer: its groups hold the first users; users seeded after them are added."""
    plan = run.plan
    spare = peer.seed_users(server, plan.settings.latency_requests, start=plan.small_users)
    sizes = [size for size in plan.group_sizes if size <= min(PEER_GROUP_LIMIT, len(user_ids))]
    skipped = [f"{size:,}" for size in plan.group_sizes if size not in sizes]
    if skipped:
        run.note(
            f"scim2-server W4 not run at groups of {', '.join(skipped)} members: it keeps and "
            "rewrites a group's whole member list on every change, and its directory here "
            f"holds {len(user_ids):,} users"
        )
    group_ids = {
        size: peer.make_group(server, user_ids[:size], f"Group of {size}") for size in sizes
    }
    groups = GroupSet(group_ids, spare)
    for size in sizes:
        slow = size >= PEER_GROUP_LIMIT
        requests = min(PEER_SLOW_GROUP_REQUESTS, plan.settings.latency_requests) if slow else 0
        run.add(w4_membership(server, groups, plan.settings, [size], requests))
        if slow and requests < plan.settings.latency_requests:
            run.note(
                f"scim2-server W4 at a group of {size:,}: {requests} requests per case, "
                f"not {plan.settings.latency_requests}"
            )


def _peer_big(run: Run, peer: ModuleType, rate: float) -> None:
    """W2 and W3 on the peer at the big size, if seeding it there is fast enough."""
    plan = run.plan
    expected = plan.big_users / rate
    if expected > PEER_SEEDING_BUDGET_S:
        run.note(
            f"scim2-server not measured at {plan.big_users:,} users: it seeds {rate:,.0f} "
            f"users/s through Bulk, about {expected / 60:.0f} min for that size"
        )
        return
    with peer.scim2_server() as server:
        peer.seed_users(server, plan.big_users)
        _lookups_and_pages(run, server, Population(plan.big_users, peer.user_name))


def optional_module(name: str) -> ModuleType | None:
    """A module of this folder written alongside the suite, or None while it is missing."""
    try:
        return __import__(name)
    except ImportError:
        return None


# The command


def make_console() -> Console:
    """Rich's console; wide enough for the table when the output is not a terminal."""
    console = Console()
    return console if console.is_terminal else Console(width=220)


def main(argv: list[str] | None = None) -> int:
    console = make_console()
    plan, results, notes = parse_plan(argv)
    try:
        ensure_wrk()
    except WrkMissing as missing:
        console.print(f"[red]{missing}[/red]")
        return 2
    run = Run(plan, console, [], [])
    for note in notes:
        run.note(note)
    if len(plan.backends) > 1 and plan.wants("W5", "W6", "W7"):
        run.note(
            f"W5-W7 run on {plan.backends[0]} only (their targets are SQLite's, and they take "
            "most of a run); --backend postgresql runs them on PostgreSQL"
        )
    began = time.monotonic()
    run.attempt("ceiling", lambda: measure_ceiling(run))
    for backend in plan.backends:
        measure_scimgate(run, backend)
    if plan.with_peer:
        peer = optional_module("peer")
        if peer is None:
            run.note("bench/peer.py is not there: scim2-server not measured")
        else:
            run.attempt("scim2-server", lambda: measure_peer(run, peer))
            if plan.pairs and "sqlite" in plan.backends and plan.wants("W1", "W2", "W5"):
                run.attempt(
                    "scimgate (sqlite) and scim2-server in turns", lambda: measure_turns(run, peer)
                )
    else:
        run.note("scim2-server skipped (--skip-peer)")
    if plan.breakdown and plan.wants("W1", "W2"):
        run.attempt("CPU per request stage (in process)", lambda: measure_breakdown(run))
    console.print(f"measured in {time.monotonic() - began:.0f} s")
    sizes = Sizes(plan.small_users, plan.big_users, plan.group_sizes)
    write(Report(run.measurements, sizes, run.notes, run.extras), results, console)
    # The peer failing a workload (it refuses Entra's manager PATCH) is a finding, shown in
    # the table; the run fails only when scimgate's own measurements do.
    failed = [m for m in run.measurements if m.notes.get("failed") and m.server != PEER]
    return 1 if failed or run.incomplete else 0


if __name__ == "__main__":
    sys.exit(main())
