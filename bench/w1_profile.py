"""A sampling profile of the server during W1, and where its samples fall, layer by layer.

``py-spy record`` attaches to the running server (it needs ptrace: root, or
``kernel.yama.ptrace_scope`` 0) and samples it while wrk creates users; where
attaching is refused, the server is started under ``py-spy record`` instead
(``launcher``), and the samples of its start are set apart. py-spy writes the
collapsed stacks (``--format raw``: one line per distinct stack,
``frame;frame;… count``), from which this module writes a speedscope profile
(open it at https://www.speedscope.app) and sorts the samples into layers.

py-spy pauses the server for each sample (it is not given ``--nonblocking``).
Read while the server runs, a stack is often read as it changes: in one W1 run
of each way on one machine, 299 of the 797 samples read without pausing had
lost their outer frames (their outermost frame was no thread's first), against
none of 1,530 read paused, and their innermost frames were wrong in a way that
moved the shares. A coroutine's frame lives in its coroutine object and stays
readable while it waits; the frames of the plain calls it makes are reused as
soon as they return. Read without pausing, samples were lost from the calls
doing the work and landed on the lines of the edge's coroutines that await
them: the SCIM edge's share was 27.2% of those samples against 19.7% paused,
scimgate.scim's 7.0% against 16.9%. Pausing 200 times a second slows the
server a little; this run's numbers are not the table's. ``cut_samples``
counts the stacks that do not begin with a thread's first frame, so that a
profile read wrongly shows it.

Paused samples lean the other way, by less: they gather on system calls. In a
loop of plain Python work calling ``os.getpid`` once per 70 µs or so (well
under 1% of its time), the line of that call took 37 of 799 samples read
paused (13 read without pausing). The edge makes two such calls a create
(``asyncio.get_running_loop``, for its commit groups and the log's batches),
which drew 3% of W1's paused samples in two runs: the edge's paused share is,
if anything, over its cost.

Only the thread holding the interpreter lock is sampled (``--gil``): the
shares are of the time the server spends running Python, which is what a
layer of Python code costs. Threads waiting for work, for a lock or for the
interpreter lock are left out (py-spy cannot tell them from running ones
otherwise), and so is C code that releases the lock (SQLite's own work, the
event loop's socket calls): a share is therefore, if anything, an
overstatement of a Python layer's part in the whole CPU time.

A sample belongs to the layer of its innermost Python frame (self time). Code
in C that keeps the lock shows as the Python frame that called it:
pydantic-core's validation as pydantic's, and the driver's calls as the
SQLAlchemy frame that calls the DB-API cursor (``do_execute``,
``do_commit``…), which is therefore counted as the driver's.

Each layer's share of the samples is printed; the suite's target on it: no
layer that does none of the request's real work (validating, writing,
answering) above 25%. ``OVERHEAD_LAYERS`` names those layers.

The files are artifacts of a run, kept in the results folder and never
committed (``bench/results/.gitignore``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from servers import as_load

RAW_NAME = "w1-profile.collapsed.txt"
SPEEDSCOPE_NAME = "w1-profile.speedscope.json"
SAMPLING_RATE = 200
"""Samples per second: enough for shares within a percent or two over a 10 s run."""

FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")

DRIVER_CALLS = frozenset(
    {"do_execute", "do_executemany", "do_execute_no_params", "do_commit", "do_rollback"}
)
"""SQLAlchemy's frames that hand a statement or a commit to the DB-API driver."""

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("scimgate.api (edge)", ("/scimgate/api/", "/scimgate/admin/")),
    ("scimgate.service", ("/scimgate/service/",)),
    ("scimgate.store", ("/scimgate/store/",)),
    ("scimgate.scim", ("/scimgate/scim/",)),
    ("scimgate (other)", ("/scimgate/",)),
    ("starlette/fastapi", ("/starlette/", "/fastapi/")),
    ("uvicorn (HTTP)", ("/uvicorn/", "/httptools/", "/uvloop/", "/h11/")),
    ("anyio/threading/asyncio", ("/anyio/", "/threading.py", "/concurrent/", "/asyncio/")),
    ("sqlite3/psycopg (driver)", ("/sqlite3/", "/psycopg/", "/psycopg_pool/")),
    ("sqlalchemy", ("/sqlalchemy/",)),
    ("scim2_models", ("/scim2_models/",)),
    ("pydantic", ("/pydantic/", "/pydantic_core/")),
    ("msgspec", ("/msgspec/",)),
    ("logging", ("/structlog/", "/logging/")),
    ("json", ("/json/",)),
)

WAITS = frozenset(
    {
        "Condition.wait",
        "Event.wait",
        "Lock.acquire",
        "Thread._wait_for_tstate_lock",
        "Queue.get",
        "SimpleQueue.get",
    }
)
"""Innermost frames of a thread that waits (for work, a lock, or the interpreter lock): py-spy
counts such threads as running, but they use no CPU, so their samples are set apart."""

WAITING = "waiting (thread pool, locks, interpreter lock)"

START_UP = ("_find_and_load", "create_app", "upgrade")
"""Functions whose stacks are the server starting (imports, building the app, migrating), not
serving: set apart, for a server started under py-spy is sampled from its first instruction."""

THREAD_ROOTS = frozenset({"<module>", "Thread._bootstrap"})
"""The first frame of a thread's every stack: the program's, or a started thread's. A stack
beginning elsewhere was read cut short."""

OVERHEAD_LAYERS = (
    "starlette/fastapi",
    "anyio/threading/asyncio",
    "sqlalchemy",
    "logging",
    "scimgate.api (edge)",
)
"""Layers that carry a request without validating, writing or answering it themselves."""


class ProfileUnavailable(RuntimeError):
    """py-spy is missing, or could not attach to the server."""


def py_spy() -> str:
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise ProfileUnavailable("py-spy is not installed (pip install py-spy)")
    return found


def _record_options(raw: Path) -> list[str]:
    return [
        "--subprocesses",
        "--gil",
        "--rate",
        str(SAMPLING_RATE),
        "--format",
        "raw",
        "--output",
        str(raw),
    ]


def launcher(folder: Path) -> tuple[list[str], Path]:
    """The command prefix that starts a server under ``py-spy record``, where attaching to a
    running process is refused (``kernel.yama.ptrace_scope`` 1 still lets a parent trace its
    child); and the raw file it will write."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = folder / RAW_NAME
    raw.unlink(missing_ok=True)
    return [py_spy(), "record", *_record_options(raw), "--"], raw


def stop_launched(pid: int, raw: Path, server_pids: list[int]) -> None:
    """Stop a launching py-spy as Ctrl-C would (it writes its file), then the server it ran."""
    os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + 60
    while not raw.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    for each in server_pids:
        try:
            os.kill(each, signal.SIGTERM)
        except ProcessLookupError:
            continue
    if not raw.exists():
        raise ProfileUnavailable("py-spy wrote no profile")


@contextmanager
def recording(pid: int, folder: Path) -> Iterator[Path]:
    """py-spy sampling ``pid`` and its children while the block runs; yields the raw file's path.

    The server is paused for each sample, so that each stack is read whole (see the module's
    docstring).
    """
    folder.mkdir(parents=True, exist_ok=True)
    raw = folder / RAW_NAME
    raw.unlink(missing_ok=True)
    command = [py_spy(), "record", "--pid", str(pid), *_record_options(raw)]
    # On the load's cores: sampling on the server's own core would take its time from it.
    process = subprocess.Popen(as_load(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(0.5)
    if process.poll() is not None:
        printed = process.stdout.read().decode(errors="replace") if process.stdout else ""
        raise ProfileUnavailable(f"py-spy could not attach to {pid}: {printed.strip()[-500:]}")
    try:
        yield raw
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if not raw.exists():
        raise ProfileUnavailable("py-spy wrote no profile")


def stacks(raw: Path) -> Counter[tuple[str, ...]]:
    found: Counter[tuple[str, ...]] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            found[tuple(stack.split(";"))] += int(count)
    return found


def _function(frame: str) -> str:
    match = FRAME.match(frame)
    return match["function"] if match else frame


def layer_of(frame: str) -> str:
    match = FRAME.match(frame)
    # py-spy names files relative to their sys.path entry: "scimgate/api/app.py".
    function, file = (match["function"], "/" + match["file"]) if match else (frame, "")
    if "/sqlalchemy/" in file and function in DRIVER_CALLS:
        return "sqlite3/psycopg (driver)"
    for layer, markers in LAYERS:
        if any(marker in file for marker in markers):
            return layer
    return "other (standard library, interpreter)"


def summary(raw: Path) -> dict[str, Any]:
    """Shares of samples by layer: self (innermost frame) and inclusive (anywhere on the stack)."""
    found = stacks(raw)
    own: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    waiting = starting = cut = 0
    for stack, count in found.items():
        if _function(stack[-1]) in WAITS:
            waiting += count
            continue
        if any(_function(frame) in START_UP for frame in stack):
            starting += count
            continue
        # With --subprocesses, each stack starts with a "process <pid>:<command>" pseudo-frame.
        frames = [frame for frame in stack if not frame.startswith("process ")]
        if not frames:
            continue
        layers = [layer_of(frame) for frame in frames]
        own[layers[-1]] += count
        if _function(frames[0]) not in THREAD_ROOTS:
            cut += count
        for layer in set(layers):
            anywhere[layer] += count
    total = sum(own.values()) or 1
    return {
        "samples": sum(own.values()),
        "waiting_samples": waiting,
        "waiting_share_of_all": round(waiting / (waiting + total), 4),
        "start_up_samples": starting,
        "cut_samples": cut,
        "raw_file": raw.name,
        "self_share": {layer: round(n / total, 4) for layer, n in own.most_common()},
        "inclusive_share": {layer: round(n / total, 4) for layer, n in anywhere.most_common()},
        "overhead_layers": list(OVERHEAD_LAYERS),
    }


def write_speedscope(raw: Path, target: Path) -> None:
    """The collapsed stacks as a speedscope "sampled" profile (https://www.speedscope.app)."""
    frames: dict[str, int] = {}
    samples, weights = [], []
    for stack, count in stacks(raw).items():
        samples.append([frames.setdefault(frame, len(frames)) for frame in stack])
        weights.append(count)
    document = {
        "$schema": "https://www.speedscope.app/file-format-schema.json",
        "shared": {"frames": [{"name": name} for name in frames]},
        "profiles": [
            {
                "type": "sampled",
                "name": "scimgate during W1",
                "unit": "none",
                "startValue": 0,
                "endValue": sum(weights),
                "samples": samples,
                "weights": weights,
            }
        ],
        "name": "scimgate during W1",
        "exporter": "bench/w1_profile.py",
    }
    target.write_text(json.dumps(document))


def finish(raw: Path) -> dict[str, Any]:
    """The summary of a recorded profile, with its speedscope file written beside it."""
    speedscope = raw.with_name(SPEEDSCOPE_NAME)
    write_speedscope(raw, speedscope)
    return summary(raw) | {"speedscope_file": speedscope.name}


def lines(profile: dict[str, Any]) -> list[str]:
    """A Markdown table of the layers' shares."""
    if not profile.get("samples"):
        return [f"W1 profile: {profile.get('error', 'not recorded')}"]
    out = [
        f"W1 profile: {profile['samples']:,} samples of the server at work "
        f"(self: innermost frame; inclusive: anywhere on the stack), besides "
        f"{profile['waiting_samples']:,} of threads {WAITING.split(' ', 1)[1]} "
        f"({profile['waiting_share_of_all']:.0%} of all) and {profile['start_up_samples']:,} of "
        "the server starting; "
        f"{profile.get('cut_samples', 0):,} stacks read cut short; "
        f"files {profile['raw_file']}, {profile['speedscope_file']} in the results directory",
        "",
        "| layer | self | inclusive | real work? |",
        "|---|---:|---:|---|",
    ]
    inclusive = profile["inclusive_share"]
    for layer, share in profile["self_share"].items():
        work = (
            "no (carries the request)"
            if layer in profile["overhead_layers"]
            else "-"
            if layer.startswith("other")
            else "yes"
        )
        out.append(f"| {layer} | {share:.1%} | {inclusive.get(layer, 0):.1%} | {work} |")
    return out


if __name__ == "__main__":
    print("\n".join(lines(finish(Path(sys.argv[1])))))
