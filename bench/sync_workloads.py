"""W5, W6, W7: what only scimgate can be measured on (its simulator, many tenants, webhooks).

W5 times scimgate's IdP simulator (``bench/idp_sync.py``), an identity
provider's whole lifecycle, against a new directory, with one request in
flight as an IdP sends them and with eight, and compares the server's CPU time
with the simulator's to tell which side limits it; the same runs against the
peer give the ratio. W6 drives many
directories at once against one server process, one wrk process per directory
doing what an initial sync does, and asks whether the server stays fair between
them. W7 times one ``scimgate worker`` draining a backlog of real outbox events
to a local receiver.

Each function starts what it needs and stops it again, on failure too. A wrong
answer (an unexpected status, a lost or duplicated event, a directory that does
not hold what was sent) raises instead of reporting a fast number.

    python bench/sync_workloads.py    # all three, small sizes, on a temporary SQLite file
"""

from __future__ import annotations

import json
import os
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import idp_sync
from measurements import Measurement, percentile
from receiver import SECRET_VARIABLE
from servers import (
    BenchDirectory,
    Server,
    as_load,
    as_server,
    cpu_seconds,
    free_port,
    new_directories,
    peak_rss_mib,
    scimgate_server,
    tree_cpu_seconds,
    wait_until_answering,
)
from sqlalchemy import Engine, func, select

from scimgate.config import ALLOWED_HOSTS_VARIABLE, AllowedHosts
from scimgate.service.administration import tenants
from scimgate.service.event_stream import webhooks
from scimgate.simulator import lifecycle
from scimgate.simulator.dialects import DIALECTS
from scimgate.simulator.population import generate
from scimgate.store.engine import open_engine
from scimgate.store.tables import event_stream
from scimgate.store.tables.webhooks import webhook_attempts, webhook_deliveries
from scimgate.store.transactions import reading

BENCH = Path(__file__).resolve().parent
SCIMGATE = str(Path(sys.executable).with_name("scimgate"))
RECEIVER = BENCH / "receiver.py"
W6_SCRIPT = BENCH / "wrk" / "w6-directory-sync.lua"
IDP = "entra"
RFC_DIALECT = "generic"
"""The simulator's plain RFC 7644 client: the peer refuses Entra's forms (a manager PATCHed as a
bare id, Entra's group schema), so the comparison with it runs this dialect on both."""
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_OPERATIONS = 500
"""Users per Bulk request when W7 fills its outbox."""

STALL_SECONDS = 60.0
"""W7 fails when the receiver gets nothing new for this long."""


# Processes and their CPU time


def finished_children_cpu_seconds() -> float:
    """CPU time of the child processes of this one that have ended (and were waited for)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@contextmanager
def started(
    command: list[str],
    *,
    env: dict[str, str] | None = None,
    output: int | IO[Any] = subprocess.DEVNULL,
) -> Iterator[subprocess.Popen[bytes]]:
    """A process that is stopped (SIGTERM, then SIGKILL) when the block ends, however it ends."""
    process = subprocess.Popen(
        command, env={**os.environ, **(env or {})}, stdout=output, stderr=subprocess.STDOUT
    )
    try:
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def scim_client(server: Server, timeout: float = 60) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers=server.headers, timeout=timeout)


def scim_root(server: Server) -> str:
    """``http://host:port``, from the SCIM base URL of the server's directory."""
    return server.base_url.rsplit("/scim/v2/", 1)[0]


# W5: initial sync by the simulator

IDP_CONCURRENCY = 1
"""Requests an identity provider keeps in flight for one directory. Neither Microsoft nor Okta
publishes one: Entra's documented pace is "25 requests/s per tenant" (its SCIM tutorial's
checklist; rate limiting only exists for gallery apps, each provisioning job runs on its own),
and Entra has been observed at just under 1,000 requests a minute at peak. At 5-40 ms a request
that is one request after another, which is how the simulator has always sent them."""

CAPACITY_CONCURRENCY = 8
"""W5 again with eight requests in flight: the server's capacity, and the target's figure."""

W5_RUNS = (
    (IDP, IDP_CONCURRENCY),
    (IDP, CAPACITY_CONCURRENCY),
    (RFC_DIALECT, CAPACITY_CONCURRENCY),
)
"""(dialect, requests in flight) of each W5 run on scimgate."""

PEER_W5_RUNS = ((IDP, CAPACITY_CONCURRENCY), (RFC_DIALECT, CAPACITY_CONCURRENCY))
IDP_SYNC = BENCH / "idp_sync.py"
IDP_SYNC_PREFIX = idp_sync.RESULT_PREFIX


@dataclass(frozen=True)
class Holdings:
    """How many users, groups and memberships a directory holds."""

    users: int
    groups: int
    memberships: int


@dataclass(frozen=True)
class SimulatorRun:
    """What ``bench/idp_sync.py`` reported."""

    requests: int
    lifecycle_seconds: float
    steps: dict[str, dict[str, Any]]
    """Per step: requests, failures, seconds, p50_ms, p99_ms."""

    failures: int
    first_failures: list[dict[str, Any]]

    @property
    def initial_sync_seconds(self) -> float:
        """The users, their managers, the groups and their members: the initial sync."""
        return round(sum(float(step["seconds"]) for step in self._initial_steps()), 2)

    @property
    def initial_sync_failed(self) -> bool:
        return any(step["failures"] for step in self._initial_steps())

    def _initial_steps(self) -> list[dict[str, Any]]:
        return [step for name, step in self.steps.items() if name.startswith("initial sync")]

    def failed_steps(self) -> dict[str, int]:
        return {name: step["failures"] for name, step in self.steps.items() if step["failures"]}


def w5_case(idp: str, users: int, groups: int, concurrency: int) -> str:
    return (
        f"{idp} initial sync of {users:,} users, {groups:,} groups and their members, "
        f"then changes; {concurrency} in flight"
    )


def w5_initial_sync(
    database_url: str,
    label: str,
    users: int = 10_000,
    groups: int = 200,
    runs: tuple[tuple[str, int], ...] = W5_RUNS,
) -> list[Measurement]:
    """The simulator against a new directory of one ``scimgate serve``, per (dialect, in flight).

    What the directory holds afterwards must be what the lifecycle leaves: a fast wrong
    answer raises instead of being timed.
    """
    measured = []
    for idp, concurrency in runs:
        directory = new_directories(database_url, name=f"w5 {idp} {concurrency}")[0]
        with scimgate_server(database_url, directory, label=label) as server:
            measured.append(w5_against(server, directory.token, users, groups, concurrency, idp))
        notes = measured[-1].notes
        expected = asdict(expected_after_lifecycle(users, groups, idp))
        if notes["simulator_failures"] or notes["held"] != expected:
            raise RuntimeError(
                f"W5, {idp} at {concurrency} in flight: the directory holds {notes['held']}, the "
                f"lifecycle leaves {expected}; the simulator's failures: {notes['first_failures']}"
            )
    return measured


def w5_against(
    server: Server, token: str, users: int, groups: int, concurrency: int, idp: str = IDP
) -> Measurement:
    """The simulator's lifecycle against any running server, with its CPU and the simulator's.

    Failed requests are recorded in the notes; a failure during the initial sync makes the
    row a failed one (its time would not be that of the same work).
    """
    server_cpu = tree_cpu_seconds(server.pid)
    simulator_cpu = finished_children_cpu_seconds()
    began = time.perf_counter()
    run = simulate(server, token, users, groups, concurrency, idp)
    seconds = time.perf_counter() - began
    server_cpu = tree_cpu_seconds(server.pid) - server_cpu
    simulator_cpu = finished_children_cpu_seconds() - simulator_cpu
    rss = peak_rss_mib(server.pid)
    try:
        with scim_client(server) as http:
            held: dict[str, int] | str = asdict(holdings(http))
    except (httpx.HTTPError, KeyError, ValueError) as error:
        held = f"could not be read: {type(error).__name__}: {error}"[:300]
    initial_sync = run.steps.get("initial sync: users", {})
    notes: dict[str, Any] = {
        "idp": idp,
        "users": users,
        "groups": groups,
        "concurrency": concurrency,
        "held": held,
        "lifecycle_seconds": run.lifecycle_seconds,
        "initial_sync_seconds": run.initial_sync_seconds,
        "server_cpu_s": round(server_cpu, 2),
        "simulator_cpu_s": round(simulator_cpu, 2),
        "server_busy": round(server_cpu / seconds, 2),
        "simulator_busy": round(simulator_cpu / seconds, 2),
        "busier": "server" if server_cpu > simulator_cpu else "simulator",
        "target": "initial sync under 20 s for 10,000 users and 200 groups at 8 in flight",
        "steps": run.steps,
        "simulator_failures": run.failures,
        "failed_steps": run.failed_steps(),
        "first_failures": run.first_failures,
        "p50_p99_means": "those of the simulator's 'initial sync: users' step",
        "load_generator": f"bench/idp_sync.py (scimgate.simulator), {concurrency} in flight",
    }
    if run.initial_sync_failed:
        failed = ", ".join(f"{name}: {n}" for name, n in run.failed_steps().items())
        notes |= {"failed": True, "failure": f"requests refused during the initial sync ({failed})"}
    return Measurement(
        workload="W5",
        case=w5_case(idp, users, groups, concurrency),
        server=server.name,
        requests=0 if run.initial_sync_failed else run.requests,
        seconds=seconds,
        p50_ms=initial_sync.get("p50_ms"),
        p99_ms=initial_sync.get("p99_ms"),
        peak_rss_mib=rss,
        notes=notes,
    )


def simulate(
    server: Server, token: str, users: int, groups: int, concurrency: int, idp: str
) -> SimulatorRun:
    # "--token=…" in one argument: a token may begin with "-" (the peer's is URL-safe
    # base64), which argparse would take for an option.
    command = [sys.executable, str(IDP_SYNC), f"--url={server.base_url}", f"--token={token}"]
    command += ["--idp", idp, "--users", str(users), "--groups", str(groups)]
    command += ["--concurrency", str(concurrency)]
    done = subprocess.run(as_load(command), capture_output=True, text=True)
    found = [line for line in done.stdout.splitlines() if line.startswith(IDP_SYNC_PREFIX)]
    if done.returncode != 0 or not found:
        raise RuntimeError(
            f"W5: the simulator exited {done.returncode} against {server.name}; "
            f"to reproduce: python bench/idp_sync.py --idp {idp} --users {users} --groups "
            f"{groups} --concurrency {concurrency} against a new directory. Its output:\n"
            f"{(done.stdout + done.stderr)[-4000:]}"
        )
    summary = json.loads(found[-1].removeprefix(IDP_SYNC_PREFIX))
    return SimulatorRun(
        requests=summary["requests"],
        lifecycle_seconds=summary["seconds"],
        steps=summary["steps"],
        failures=summary["failures"],
        first_failures=summary["first_failures"],
    )


def expected_after_lifecycle(users: int, groups: int, idp: str = IDP) -> Holdings:
    """What the simulator's lifecycle leaves in the directory, replayed on its population.

    Every other group loses its first member; with an IdP that deletes, every
    other leaver (W5's share of the people, from the third) is deleted, and with them
    their memberships.
    """
    dialect = DIALECTS[idp]
    population = generate(users, groups)
    leavers = lifecycle.leavers(population.people, idp_sync.LEAVERS_PERCENT)
    deleted = {person.key for person in leavers[::2]} if dialect.deletes_users else set()
    teams = population.teams if dialect.pushes_groups else []
    for team in teams[::2]:
        if team.members:
            team.members.pop(0)
    memberships = sum(1 for team in teams for key in team.members if key not in deleted)
    return Holdings(users - len(deleted), len(teams), memberships)


def holdings(http: httpx.Client, page: int = 50) -> Holdings:
    """Users and groups by their ``count=0`` totals; memberships by reading every group."""
    users, groups = total(http, "/Users"), total(http, "/Groups")
    memberships = 0
    for start in range(1, groups + 1, page):
        params = {"startIndex": start, "count": page, "attributes": "members"}
        answer = http.get("/Groups", params=params)
        answer.raise_for_status()
        memberships += sum(len(each.get("members", [])) for each in answer.json()["Resources"])
    return Holdings(users, groups, memberships)


def total(http: httpx.Client, path: str) -> int:
    answer = http.get(path, params={"count": 0})
    answer.raise_for_status()
    return int(answer.json()["totalResults"])


# W6: many directories syncing at once


@dataclass(frozen=True)
class DirectoryLoad:
    """What one directory's wrk process reported from its ``done()``."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    statuses: dict[str, int]
    """Answers per kind and status, e.g. ``{"lookup 200": 812, "create 201": 811}``."""

    unexpected: int
    first_unexpected: str
    errors: dict[str, int]
    """wrk's socket errors and timeouts."""

    @classmethod
    def from_wrk(cls, output: str) -> DirectoryLoad:
        lines = [line for line in output.splitlines() if line.startswith("{")]
        if not lines:
            raise RuntimeError(f"W6: wrk printed no result:\n{output[-2000:]}")
        found = json.loads(lines[-1])
        return cls(
            requests=found["requests"],
            seconds=found["duration_us"] / 1e6,
            p50_ms=found["p50_us"] / 1000,
            p99_ms=found["p99_us"] / 1000,
            statuses=found["statuses"],
            unexpected=found["unexpected"],
            first_unexpected=found["first_unexpected"],
            errors=found["errors"],
        )

    @property
    def failed(self) -> bool:
        return self.unexpected > 0 or any(self.errors.values())


def w6_fairness(
    database_url: str, label: str, directories: int = 50, seconds: float = 20
) -> list[Measurement]:
    """Directories syncing at once against one server process: throughput and fairness.

    One wrk process per directory (``-t1 -c1``): wrk's ``done()`` only sees the
    histogram of its whole process, so a process per directory is what gives
    each directory its own p99. They wait on the server nearly all the time;
    their CPU time is recorded next to the server's to show they do not crowd it.
    """
    made = new_directories(database_url, directories, name="w6")
    with scimgate_server(database_url, made[0], label=label) as server:
        urls = [f"{scim_root(server)}/scim/v2/{each.directory_id}" for each in made]
        activate(urls, made)
        server_cpu = cpu_seconds(server.pid)
        load_cpu = finished_children_cpu_seconds()
        loads = wrk_per_directory(urls, made, seconds)
        server_cpu = cpu_seconds(server.pid) - server_cpu
        load_cpu = finished_children_cpu_seconds() - load_cpu
        rss = peak_rss_mib(server.pid)
    failed = [load for load in loads if load.failed]
    if failed:
        raise RuntimeError(
            f"W6: {len(failed)} of {len(loads)} directories got unexpected answers or errors; "
            f"first: {failed[0].first_unexpected or failed[0].errors}; "
            f"statuses: {dict(sum((Counter(each.statuses) for each in loads), Counter()))}"
        )
    return [fairness_measurement(label, loads, seconds, rss, server_cpu, load_cpu)]


def activate(urls: list[str], made: list[BenchDirectory]) -> None:
    """Each directory's first request (it records the directory's activation) before timing."""
    for url, directory in zip(urls, made, strict=True):
        answer = httpx.get(
            f"{url}/Users",
            params={"count": 0},
            headers={"Authorization": f"Bearer {directory.token}"},
            timeout=30,
        )
        answer.raise_for_status()


def wrk_per_directory(
    urls: list[str], made: list[BenchDirectory], seconds: float
) -> list[DirectoryLoad]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("W6 needs wrk on the PATH")
    run = secrets.token_hex(3)
    with ExitStack() as stack:
        processes = [
            stack.enter_context(
                started(
                    as_load(wrk_command(wrk, url, directory, f"w6-{run}-{index}", seconds)),
                    output=subprocess.PIPE,
                )
            )
            for index, (url, directory) in enumerate(zip(urls, made, strict=True))
        ]
        outputs = [process.communicate(timeout=seconds + 120)[0] for process in processes]
    return [DirectoryLoad.from_wrk(output.decode()) for output in outputs]


def wrk_command(
    wrk: str, url: str, directory: BenchDirectory, prefix: str, seconds: float
) -> list[str]:
    """One connection, no pipelining; ``prefix`` keeps the user names of each run apart."""
    options = ["-t1", "-c1", f"-d{seconds:g}s", "--timeout", "60s", "-s", str(W6_SCRIPT)]
    return [wrk, *options, url, "--", directory.token, prefix]


def fairness_measurement(
    label: str,
    loads: list[DirectoryLoad],
    seconds: float,
    rss: float,
    server_cpu: float,
    load_cpu: float,
) -> Measurement:
    p99s = sorted(load.p99_ms for load in loads)
    median_p99, worst_p99 = statistics.median_low(p99s), p99s[-1]
    per_directory = sorted(load.requests for load in loads)
    wall = max(load.seconds for load in loads)
    return Measurement(
        workload="W6",
        case=f"{len(loads)} directories syncing at once (lookup + create), one server process",
        server=label,
        requests=sum(per_directory),
        seconds=wall,
        p50_ms=statistics.median_low(load.p50_ms for load in loads),
        p99_ms=median_p99,
        peak_rss_mib=rss,
        notes={
            "p50_means": "the median of the directories' p50",
            "p99_means": "the median directory's p99",
            "median_directory_p99_ms": median_p99,
            "worst_directory_p99_ms": worst_p99,
            "spread_worst_over_median_p99": round(worst_p99 / median_p99, 2),
            "aggregate_requests_per_s": round(sum(x.requests / x.seconds for x in loads), 1),
            "requests_per_directory": {
                "fewest": per_directory[0],
                "median": statistics.median_low(per_directory),
                "most": per_directory[-1],
            },
            "statuses": dict(sum((Counter(load.statuses) for load in loads), Counter())),
            "seconds_per_directory": seconds,
            "server_cpu_s": round(server_cpu, 2),
            "wrk_cpu_s": round(load_cpu, 2),
            "load_generator": "one wrk process per directory, -t1 -c1",
        },
    )


# W7: webhook delivery


@dataclass(frozen=True)
class Tally:
    """The receiver's counts (``GET /stats``)."""

    deliveries: int
    unique: int
    duplicates: int
    invalid: int
    first_at: float | None
    last_at: float | None
    """``time.monotonic()`` of the first and latest valid delivery, on this machine's clock."""


LOOPBACK_RECEIVER = "127.0.0.1"
"""W7's receiver runs on this machine: webhooks go there only when the operator allows it."""


def w7_webhooks(database_url: str, label: str, events: int = 10_000) -> list[Measurement]:
    """A backlog of ``events`` user creations, drained by one ``scimgate worker`` to a receiver."""
    directory = new_directories(database_url, name="w7")[0]
    engine = open_engine(database_url)
    port = free_port()
    try:
        issued = webhooks.register(
            engine,
            f"http://127.0.0.1:{port}/hook",
            organization_id=organization_of(engine, directory.directory_id),
            description="benchmark receiver",
            allowed=AllowedHosts.parse(LOOPBACK_RECEIVER),
        )
        try:
            with started(
                as_load([sys.executable, str(RECEIVER), "--port", str(port)]),
                env={SECRET_VARIABLE: issued.secret},
            ) as receiver:
                stats_url = f"http://127.0.0.1:{port}/stats"
                wait_until_answering(stats_url, receiver)
                backlog = drain_backlog(engine, database_url, directory, label, events, stats_url)
            return [delivery_measurement(backlog, delivery_record(engine, issued.endpoint.id))]
        finally:
            webhooks.remove(engine, issued.endpoint.id)
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Backlog:
    """What draining the backlog took, as the receiver and the worker process saw it."""

    label: str
    users: int
    outbox: int
    seconds: float
    first_delivery_s: float
    worker_rss_mib: float
    worker_cpu_s: float
    tally: Tally


def delivery_measurement(backlog: Backlog, record: DeliveryRecord) -> Measurement:
    """W7's row; a duplicate, a retry or an event left undelivered fails the run instead."""
    tally = backlog.tally
    if tally.duplicates or record.undelivered or record.attempts != backlog.outbox:
        raise RuntimeError(
            f"W7: {backlog.outbox} events; the receiver got {tally}; the database recorded {record}"
        )
    return Measurement(
        workload="W7",
        case=f"{backlog.users:,} user.created events to one endpoint, one worker process",
        server=backlog.label,
        requests=backlog.outbox,
        seconds=backlog.seconds,
        peak_rss_mib=backlog.worker_rss_mib,
        notes={
            "users_created": backlog.users,
            "events_in_outbox": backlog.outbox,
            "received_unique": tally.unique,
            "duplicates": tally.duplicates,
            "invalid_signatures": tally.invalid,
            "attempts": record.attempts,
            "ms_per_delivery": round(1000 * backlog.seconds / backlog.outbox, 1),
            "receiver_round_trip_p50_ms": record.latency_percentile(0.5),
            "receiver_round_trip_p99_ms": record.latency_percentile(0.99),
            "first_delivery_after_s": round(backlog.first_delivery_s, 2),
            "worker_cpu_s": round(backlog.worker_cpu_s, 2),
            "peak_rss_mib": "of the worker process",
            "seconds": "from starting the worker to the last delivery received",
        },
    )


@dataclass(frozen=True)
class DeliveryRecord:
    """What the database logged of the endpoint's deliveries."""

    attempts: int
    undelivered: int
    """Deliveries not marked delivered."""

    latencies_ms: list[int]
    """Each attempt's round trip to the receiver, as the worker timed it."""

    def latency_percentile(self, share: float) -> int:
        return percentile(self.latencies_ms, share)


def organization_of(engine: Engine, directory_id: str) -> str:
    return next(
        each.organization_id for each in tenants.list_directories(engine) if each.id == directory_id
    )


def drain_backlog(
    engine: Engine,
    database_url: str,
    directory: BenchDirectory,
    label: str,
    users: int,
    stats_url: str,
) -> Backlog:
    with scimgate_server(database_url, directory, label=label) as server:
        create_users(server, users)
    outbox = outbox_size(engine, directory.directory_id)
    with (
        tempfile.TemporaryFile() as log,
        started(
            as_server([SCIMGATE, "worker", "--database-url", database_url]),
            env={ALLOWED_HOSTS_VARIABLE: LOOPBACK_RECEIVER},
            output=log,
        ) as worker,
    ):
        began = time.monotonic()
        tally = wait_for_deliveries(stats_url, outbox, worker, log)
        rss, worker_cpu = peak_rss_mib(worker.pid), cpu_seconds(worker.pid)
    assert tally.first_at is not None and tally.last_at is not None
    return Backlog(
        label=label,
        users=users,
        outbox=outbox,
        seconds=tally.last_at - began,
        first_delivery_s=tally.first_at - began,
        worker_rss_mib=rss,
        worker_cpu_s=worker_cpu,
        # Read once more after the worker stopped: a duplicate may have come at the very end.
        tally=read_tally(stats_url),
    )


def create_users(server: Server, count: int) -> None:
    """``count`` users through SCIM Bulk requests, two at a time; each must answer 201."""
    batches = [
        range(start, min(start + BULK_OPERATIONS, count))
        for start in range(0, count, BULK_OPERATIONS)
    ]
    with scim_client(server, timeout=600) as http, ThreadPoolExecutor(2) as pool:
        refused = [
            each
            for failures in pool.map(lambda b: post_bulk(http, b), batches)
            for each in failures
        ]
    if refused:
        raise RuntimeError(f"W7: {len(refused)} users were not created; first: {refused[0]}")


def post_bulk(http: httpx.Client, numbers: range) -> list[str]:
    """One Bulk request creating these users; returns what did not answer 201."""
    operations = [
        {"method": "POST", "path": "/Users", "bulkId": f"user{n}", "data": bench_user(n)}
        for n in numbers
    ]
    answer = http.post("/Bulk", json={"schemas": [BULK_REQUEST], "Operations": operations})
    if answer.status_code != 200:
        return [f"Bulk {answer.status_code}: {answer.text[:500]}"]
    return [
        f"{each.get('bulkId')}: {each.get('status')} {json.dumps(each.get('response'))[:300]}"
        for each in answer.json()["Operations"]
        if str(each.get("status")) != "201"
    ]


def bench_user(n: int) -> dict[str, Any]:
    user_name = f"w7-user-{n}@example.com"
    return {
        "schemas": [USER],
        "userName": user_name,
        "externalId": f"w7-{n}",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "displayName": "Ada Lovelace",
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        "active": True,
    }


def outbox_size(engine: Engine, directory_id: str) -> int:
    """Events the directory published: each is one delivery to the endpoint."""
    events = event_stream.events
    with reading(engine) as conn:
        query = (
            select(func.count()).select_from(events).where(events.c.directory_id == directory_id)
        )
        return int(conn.execute(query).scalar_one())


def wait_for_deliveries(
    stats_url: str, expected: int, worker: subprocess.Popen[bytes], log: IO[bytes]
) -> Tally:
    """Poll the receiver until every event arrived; fail when the worker dies or stalls."""
    seen, progressed = 0, time.monotonic()
    while True:
        tally = read_tally(stats_url)
        if tally.invalid:
            raise RuntimeError(
                f"W7: {tally.invalid} deliveries had a signature that did not verify"
            )
        if tally.unique >= expected:
            return tally
        if tally.unique > seen:
            seen, progressed = tally.unique, time.monotonic()
        stalled = time.monotonic() - progressed > STALL_SECONDS
        if worker.poll() is not None or stalled:
            log.seek(0)
            raise RuntimeError(
                f"W7: {tally.unique} of {expected} deliveries arrived, then "
                + ("the worker exited" if worker.poll() is not None else "nothing for a minute")
                + f"; the worker's log ends:\n{log.read()[-3000:].decode(errors='replace')}"
            )
        time.sleep(0.1)


def read_tally(stats_url: str) -> Tally:
    answer = httpx.get(stats_url, timeout=10)
    answer.raise_for_status()
    return Tally(**answer.json())


def delivery_record(engine: Engine, endpoint_id: str) -> DeliveryRecord:
    attempts, deliveries = webhook_attempts, webhook_deliveries
    with reading(engine) as conn:
        latencies = list(
            conn.execute(
                select(attempts.c.latency_ms).where(attempts.c.endpoint_id == endpoint_id)
            ).scalars()
        )
        undelivered = conn.execute(
            select(func.count())
            .select_from(deliveries)
            .where(deliveries.c.endpoint_id == endpoint_id, deliveries.c.status != "delivered")
        ).scalar_one()
    return DeliveryRecord(len(latencies), int(undelivered), latencies)


# A quick run of all three


def print_measurement(measurement: Measurement) -> None:
    m = measurement
    p50 = f"{m.p50_ms:.1f}" if m.p50_ms is not None else "-"
    p99 = f"{m.p99_ms:.1f}" if m.p99_ms is not None else "-"
    rss = f"{m.peak_rss_mib:.0f} MiB" if m.peak_rss_mib is not None else "-"
    print(f"{m.workload} {m.case} [{m.server}]")
    print(
        f"   {m.requests} in {m.seconds:.2f} s = {m.throughput:.0f}/s, "
        f"p50 {p50} ms, p99 {p99} ms, peak RSS {rss}"
    )
    print(f"   {json.dumps(m.notes)}")


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        database_url = f"sqlite:///{Path(folder) / 'bench.db'}"
        label = "scimgate (sqlite)"
        for measurement in [
            *w5_initial_sync(database_url, label, users=200, groups=10),
            *w6_fairness(database_url, label, directories=5, seconds=5),
            *w7_webhooks(database_url, label, events=200),
        ]:
            print_measurement(measurement)


if __name__ == "__main__":
    main()
