"""What the benchmark drives: a server on a loopback port, and how to read its memory.

Every target the suite measures (scimgate, the reference peer, the bare ASGI
ceiling) is started by a context manager that yields a ``Server``; the load
generator only needs its SCIM base URL and headers, and the report reads the
process tree's peak resident memory from ``/proc``.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from scimgate.scim.idp import IdpProfile
from scimgate.service.administration import tenants
from scimgate.store.engine import close_connections, open_engine
from scimgate.store.migrate import upgrade


@dataclass(frozen=True)
class Server:
    """A running server: where to send requests, with which headers, and its process."""

    name: str
    """Shown in the table: ``scimgate (sqlite)``, ``scim2-server``, ``ceiling``."""

    base_url: str
    """The SCIM base URL (``…/scim/v2/<directory>`` for scimgate); the ceiling's root."""

    pid: int
    headers: dict[str, str] = field(default_factory=dict)
    """Sent with every request (the bearer token, the content type)."""


def _core_split() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The cores a measured server runs on, and those its load generator runs on.

    The targets are set for a server pinned to one core (see the README's targets): the
    server gets the first core this process may use, wrk or the simulator the others,
    so that the load generator never takes the server's core and the server never
    spreads over a second one. With a single core, both run on it.
    """
    allowed = tuple(sorted(os.sched_getaffinity(0)))
    return (allowed[:1], allowed[1:]) if len(allowed) > 1 else (allowed, allowed)


SERVER_CORES, LOAD_CORES = _core_split()


def on_cores(cores: Sequence[int], command: Sequence[str]) -> list[str]:
    """``command`` run on these cores only (``taskset``, which execs it: its pid is the
    command's), every thread and child process included; as it is where there is no
    ``taskset``."""
    taskset = shutil.which("taskset")
    if taskset is None:
        return list(command)
    return [taskset, "--cpu-list", ",".join(map(str, cores)), *command]


def as_server(command: Sequence[str]) -> list[str]:
    """A measured server's command, pinned to its core (``SERVER_CORES``)."""
    return on_cores(SERVER_CORES, command)


def as_load(command: Sequence[str]) -> list[str]:
    """A load generator's command, kept off the server's core (``LOAD_CORES``)."""
    return on_cores(LOAD_CORES, command)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_answering(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    """Poll ``url`` until anything answers over HTTP, while ``process`` (what should answer)
    runs: a process that exits first, say because its port was taken meanwhile, must not
    leave whatever else holds the port to be measured in its place."""
    deadline = time.monotonic() + seconds
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the process for {url} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing answered at {url} within {seconds:.0f} s") from None
            time.sleep(0.1)


def peak_rss_mib(pid: int) -> float:
    """The peak resident memory (VmHWM) of a process and its children, in MiB."""
    total_kib = 0
    for each in [pid, *_children(pid)]:
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                total_kib += int(line.split()[1])
    return total_kib / 1024


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a running process has used so far (``/proc/<pid>/stat``)."""
    user, kernel = _cpu_times(pid)
    return user + kernel


def kernel_cpu_seconds(pid: int) -> float:
    """The part of :func:`cpu_seconds` spent in the kernel on the process's behalf."""
    return _cpu_times(pid)[1]


def _stat_fields(pid: int) -> list[str]:
    """A running process's ``/proc/<pid>/stat`` fields after its command name (the name may
    hold spaces: the fields are counted after its closing parenthesis), from its state on."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _cpu_times(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of a running process so far."""
    fields = _stat_fields(pid)
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / ticks, int(fields[12]) / ticks


def ended_children_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process's children that have ended and that it has
    waited for (``cutime`` and ``cstime``)."""
    fields = _stat_fields(pid)
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def parent_pid(pid: int) -> int:
    """The pid of a running process's parent."""
    return int(_stat_fields(pid)[1])


def machine_cpu_seconds() -> tuple[float, float]:
    """CPU seconds the cores of this machine have been busy so far, and in all (``/proc/stat``):
    busy is everything but idle, I/O wait and time the hypervisor gave to others, whoever
    ran (servers, the database, the load generator)."""
    fields = [int(each) for each in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields[:8]
    ticks = os.sysconf("SC_CLK_TCK")
    busy = user + nice + system + irq + softirq
    return busy / ticks, (busy + idle + iowait + steal) / ticks


def context_switches(pid: int) -> int:
    """How many times the threads a process has now were switched off a core so far, for
    waiting (a lock, the interpreter lock, a socket) or preempted (``/proc/<pid>/task``):
    a thread that ended is no longer counted."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            status = (task / "status").read_text()
        except OSError:  # a thread that ended meanwhile
            continue
        for line in status.splitlines():
            if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                total += int(line.split()[1])
    return total


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its running children (the workers of ``--workers N``)."""
    return tree_sum(pid, cpu_seconds)


def tree_sum(pid: int, reading: Callable[[int], float]) -> float:
    """``reading`` of a process plus that of its running children."""
    total = 0.0
    for each in [pid, *_children(pid)]:
        try:
            total += reading(each)
        except OSError:  # a child that ended meanwhile
            continue
    return total


def settled(pid: int, seconds: float = 60) -> None:
    """Wait until a process tree is idle (under 10% of a core over half a second): workers that
    are still starting must not count their start in a measurement's CPU time."""
    deadline = time.monotonic() + seconds
    before = tree_cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = tree_cpu_seconds(pid)
        if now - before < 0.05:
            return
        before = now


def children(pid: int) -> list[int]:
    """The running descendants of a process."""
    return _children(pid)


def _children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    children = [int(child) for child in found]
    return children + [grandchild for child in children for grandchild in _children(child)]


@dataclass(frozen=True)
class BenchDirectory:
    """A directory made for a benchmark, with a token to reach it."""

    directory_id: str
    token: str


def new_directories(
    database_url: str, count: int = 1, name: str = "bench", idp: str = "generic"
) -> list[BenchDirectory]:
    """Directories in one new organization of a (migrated) database, each with a token, set
    to the IdP profile ``idp``."""
    engine = open_engine(database_url)
    try:
        upgrade(engine)
        organization = tenants.create_organization(engine, f"{name} {time.time_ns()}")
        made = [
            tenants.create_directory(engine, organization.id, f"{name} {n}", IdpProfile(idp))
            for n in range(count)
        ]
        return [BenchDirectory(each.directory.id, each.token.secret) for each in made]
    finally:
        close_connections(engine)


NO_RATE_LIMITS = {"SCIMGATE_DIRECTORY_RATE": "0", "SCIMGATE_TOKEN_RATE": "0"}


@contextmanager
def scimgate_server(
    database_url: str,
    directory: BenchDirectory,
    *,
    label: str,
    deliver_webhooks: bool = False,
    extra_env: dict[str, str] | None = None,
    processes: int = 1,
    launcher: Sequence[str] = (),
    pinned: bool = True,
) -> Iterator[Server]:
    """``scimgate serve`` on a free loopback port: one process, as the README runs it, or
    ``--workers N`` (PostgreSQL). ``launcher`` runs it under another command (a profiler):
    the yielded pid is then the launcher's. ``pinned``: on the server's core
    (``as_server``), the launcher included; else on every core."""
    port = free_port()
    command = [*launcher, str(Path(sys.executable).with_name("scimgate"))]
    command += ["serve", "--port", str(port)]
    command += ["--database-url", database_url, "--workers", str(processes)]
    command += ["--worker" if deliver_webhooks else "--no-worker"]
    process = subprocess.Popen(
        as_server(command) if pinned else command,
        # The workloads measure how fast scimgate serves, so its rate limits are off.
        env={**os.environ, **NO_RATE_LIMITS, **(extra_env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    root = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(f"{root}/healthz", process, seconds=60 * processes)
        yield Server(
            name=label,
            base_url=f"{root}/scim/v2/{directory.directory_id}",
            pid=process.pid,
            headers={
                "Authorization": f"Bearer {directory.token}",
                "Content-Type": "application/scim+json",
            },
        )
    finally:
        process.terminate()
        process.wait(timeout=60)
