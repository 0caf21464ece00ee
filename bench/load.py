"""The load generator: wrk with the Lua scripts in ``bench/wrk``, the same for every server.

Throughput runs use two threads and eight connections for a fixed duration;
latency runs use one thread and one connection, so each request waits for the
one before it. Each script counts the statuses its thread saw and prints, from
wrk's ``done()``, one JSON line with the totals and the p50/p99 of wrk's own
latency histogram, which ``run_wrk`` parses. A run in which any response had a
status other than the expected ones, or any socket error or timeout occurred,
is failed: its requests are reported, never counted as throughput.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from servers import Server, as_load

WRK_SCRIPTS = Path(__file__).with_name("wrk")
RESULT_PREFIX = "BENCH-RESULT "
THREAD_DONE = "BENCH-THREAD-DONE"
LIST_RUN_LIMIT_S = 600
"""A list run stops when its list is answered; this only bounds a run that hangs."""

LIST_SECONDS_BASE = 30.0
LIST_SECONDS_PER_REQUEST = 2.0
"""A list run that is not answered within 30 s plus 2 s a request (ten times the slowest
case measured) is stopped and failed: a server that stopped answering costs minutes, not
the whole limit."""


@dataclass(frozen=True)
class Shape:
    """How hard wrk drives a server: threads, connections, and for how long."""

    threads: int
    connections: int
    seconds: float


THROUGHPUT = Shape(threads=2, connections=8, seconds=10)
ONE_AT_A_TIME = Shape(threads=1, connections=1, seconds=LIST_RUN_LIMIT_S)


@dataclass(frozen=True)
class Request:
    """One line of an input list: what to send, relative to the server's base URL."""

    method: str
    path: str
    body: str = ""

    def line(self) -> str:
        if "\t" in self.path + self.body or "\n" in self.path + self.body:
            raise ValueError("request paths and bodies must fit on one line without tabs")
        return f"{self.method}\t{self.path}\t{self.body}"


@dataclass(frozen=True)
class LoadResult:
    """What wrk measured in one run."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    statuses: dict[int, int]
    expected: frozenset[int]
    socket_errors: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def unexpected(self) -> dict[int, int]:
        return {status: n for status, n in self.statuses.items() if status not in self.expected}

    @property
    def failed(self) -> bool:
        return bool(self.unexpected or self.socket_errors or self.problems or not self.requests)

    def failure(self) -> str:
        """Why the run failed, in a few words for the table's notes."""
        reasons = [f"{n} x HTTP {status}" for status, n in sorted(self.unexpected.items())]
        if self.socket_errors:
            reasons.append(f"{self.socket_errors} socket errors or timeouts")
        if not self.requests:
            reasons.append("no requests answered")
        return "; ".join(reasons + self.problems)


class WrkMissing(RuntimeError):
    """wrk is not installed and could not be installed here."""


def ensure_wrk() -> str:
    """The path of wrk, installing Debian's package when running as root with apt-get."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: installing Debian's wrk package with apt-get")
        for command in (["apt-get", "update"], ["apt-get", "install", "-y", "wrk"]):
            subprocess.run(command, stdout=subprocess.DEVNULL, check=False)
        found = shutil.which("wrk")
        if found:
            return found
    raise WrkMissing("wrk is not installed: run 'sudo apt-get install wrk' (Debian, Ubuntu)")


def run_wrk(
    server: Server,
    script: str,
    *,
    shape: Shape,
    expected: Sequence[int],
    requests: Sequence[Request] = (),
    cycle: bool = False,
    run_id: str = "run",
    script_env: dict[str, str] | None = None,
    pinned: bool = True,
) -> LoadResult:
    """Drive ``server`` with ``bench/wrk/<script>.lua`` and read its summary line.

    With ``requests`` the script sends that list in order, split between the
    threads; without ``cycle`` each thread stops when its share is answered,
    which needs one connection per thread so that nothing is sent twice. ``script_env`` gives
    the script settings of its own. ``pinned``: wrk stays off the server's core (``as_load``);
    else it runs on every core.
    """
    if requests and not cycle and shape.connections != shape.threads:
        raise ValueError("a list sent once needs one connection per thread")
    with tempfile.TemporaryDirectory() as folder:
        listing = Path(folder) / "requests.tsv"
        listing.write_text("".join(request.line() + "\n" for request in requests))
        seconds = shape.seconds
        if requests and not cycle:
            seconds = min(seconds, LIST_SECONDS_BASE + LIST_SECONDS_PER_REQUEST * len(requests))
        command = [ensure_wrk(), f"-t{shape.threads}", f"-c{shape.connections}"]
        command += [f"-d{max(1, round(seconds))}s", "--timeout", "30s"]
        command += [f"-s{WRK_SCRIPTS / (script + '.lua')}"]
        command += [
            arg for name, value in server.headers.items() for arg in ("-H", f"{name}: {value}")
        ]
        command += [server.base_url]
        env = {
            **os.environ,
            "BENCH_WRK_DIR": str(WRK_SCRIPTS),
            "BENCH_THREADS": str(shape.threads),
            "BENCH_INPUT": str(listing),
            "BENCH_CYCLE": "1" if cycle else "0",
            "BENCH_RUN": run_id,
            **(script_env or {}),
        }
        command = as_load(command) if pinned else command
        output = _wrk_output(command, env, stop_when_done=0 if cycle else shape.threads)
    result = _parse(output, frozenset(expected))
    if requests and not cycle and output.count(THREAD_DONE) < shape.threads:
        unanswered = f"the list was not answered within {seconds:.0f} s"
        return replace(result, problems=[*result.problems, unanswered])
    return result


def _wrk_output(command: list[str], env: dict[str, str], stop_when_done: int) -> list[str]:
    """wrk's stdout lines; interrupted (as Ctrl-C would) once ``stop_when_done`` threads said
    their list was answered, since wrk otherwise sleeps out the whole duration."""
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=errors, text=True, bufsize=1
        )
        assert process.stdout is not None
        lines: list[str] = []
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if stop_when_done and lines.count(THREAD_DONE) == stop_when_done:
                process.send_signal(signal.SIGINT)
                stop_when_done = 0
        if process.wait() != 0:
            errors.seek(0)
            lines.append(f"wrk failed: {errors.read().strip()[-300:]}")
    return lines


def _parse(lines: list[str], expected: frozenset[int]) -> LoadResult:
    results = [line for line in lines if line.startswith(RESULT_PREFIX)]
    if not results:
        problem = "\n".join(lines).strip()[-300:] or "wrk printed no result"
        return LoadResult(0, 0.0, 0.0, 0.0, {}, expected, problems=[problem])
    summary = json.loads(results[-1].removeprefix(RESULT_PREFIX))
    return LoadResult(
        requests=int(summary["requests"]),
        seconds=summary["duration_us"] / 1e6,
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        statuses={int(status): n for status, n in summary["statuses"].items()},
        expected=expected,
        socket_errors=sum(
            summary[key] for key in ("connect_errors", "read_errors", "write_errors", "timeouts")
        ),
    )
