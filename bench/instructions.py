"""Instructions per request, counted by valgrind's callgrind: a measure that does not drift.

CPU time on these shared machines moves by a third within minutes, so a change
worth a few percent cannot be told from the drift by timing it. The number of
instructions a request executes hardly moves from one run to the next (0.1% here),
so two versions can be compared run after run. It is not time: a cache miss or a
system call counts as little as any instruction, and the kernel's work is not
counted at all. It tells whether a change removed work, not what the work cost.

The application runs in process, as ``breakdown.py`` runs it (its lifespan
started, no socket): a directory is filled with ``--users`` users, ``--warm-up``
requests are sent, and only the next ``--requests`` are counted, 8 in flight, by
turning callgrind's instrumentation on and off around them (``callgrind_control``).
Every thread of the process is counted, the provisioning log's writes and the
checkpoints included.

    python bench/instructions.py [--kind lookup|create|both] [--requests 1000]

Needs valgrind (Debian's ``valgrind`` package). Under it a request is some fifty
times slower: 1,000 lookups take about half a minute.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
KINDS = ("lookup", "create")


def count(kind: str, requests: int, warm_up: int, users: int) -> int:
    """Instructions per request of ``kind``, counted under callgrind in a process of its own."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out}",
            sys.executable,
            __file__,
            "--measured",
            kind,
            str(requests),
            str(warm_up),
            str(users),
        ]
        run = subprocess.run(command, capture_output=True, text=True, check=False)
        found = re.search(r"Collected : (\d+)", run.stderr)
        if run.returncode != 0 or found is None:
            raise RuntimeError(f"the counted run failed:\n{run.stdout}\n{run.stderr[-2000:]}")
        return int(found.group(1)) // requests


def measured(kind: str, requests: int, warm_up: int, users: int) -> None:
    """Under callgrind: the requests, with instrumentation on only for the counted ones."""
    sys.path.insert(0, str(HERE))
    from breakdown import AsgiCaller, application, create_body, user_name_query

    with (
        tempfile.TemporaryDirectory() as folder,
        application(f"sqlite:///{Path(folder) / 'counted.db'}") as (app, directory),
    ):
        base = f"/scim/v2/{directory.directory_id}"
        caller = AsgiCaller(app, directory.token)
        try:
            made = [("POST", f"{base}/Users", create_body(n, "made")) for n in range(users)]
            caller.cpu_us_per_request(made, 8)
            every = warm_up + requests
            if kind == "lookup":
                names = [f"made-{n % users}@bench.example.com" for n in range(every)]
                sent = [("GET", f"{base}/Users?{user_name_query(name)}", b"") for name in names]
            else:
                sent = [("POST", f"{base}/Users", create_body(n, "new")) for n in range(every)]
            caller.cpu_us_per_request(sent[:warm_up], 8)
            _instrument("on")
            _, statuses = caller.cpu_us_per_request(sent[warm_up:], 8)
            _instrument("off")
        finally:
            caller.close()
    expected = 200 if kind == "lookup" else 201
    if set(statuses) != {expected}:
        raise SystemExit(f"answers other than {expected}: {sorted(set(statuses))}")


def _instrument(state: str) -> None:
    subprocess.run(
        ["callgrind_control", "--instr", state, str(os.getpid())], capture_output=True, check=True
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--measured":
        kind, requests, warm_up, users = sys.argv[2], *map(int, sys.argv[3:6])
        measured(kind, requests, warm_up, users)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", choices=(*KINDS, "both"), default="both")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--warm-up", type=int, default=200)
    parser.add_argument("--users", type=int, default=300)
    options = parser.parse_args()
    for kind in KINDS if options.kind == "both" else (options.kind,):
        found = count(kind, options.requests, options.warm_up, options.users)
        print(f"{kind}: {found:,} instructions a request")


if __name__ == "__main__":
    main()
