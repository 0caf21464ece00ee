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

    python bench/instructions.py [--kind lookup|create|both|manager|members] [--requests 1000]

``manager`` and ``members`` count two of W5's Entra requests, in a directory set to
Entra ID, as ``breakdown.py`` sends them: the PATCH setting a user's manager for the first
time, and the PATCH adding ten users no group held, one ``Add`` each, to one of twenty
groups (``--users`` is not used there: the users each request needs are made first).

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
from typing import Any

HERE = Path(__file__).resolve().parent
KINDS = ("lookup", "create")
"""What ``--kind both`` counts."""

SYNC_KINDS = ("manager", "members")


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
    from breakdown import AsgiCaller, application

    every = warm_up + requests
    with (
        tempfile.TemporaryDirectory() as folder,
        application(
            f"sqlite:///{Path(folder) / 'counted.db'}",
            idp="entra" if kind in SYNC_KINDS else "generic",
        ) as (app, directory),
    ):
        caller = AsgiCaller(app, directory.token)
        try:
            sent, expected = _requests(kind, app, directory, caller, every, users)
            caller.cpu_us_per_request(sent[:warm_up], 8)
            _instrument("on")
            _, statuses = caller.cpu_us_per_request(sent[warm_up:], 8)
            _instrument("off")
        finally:
            caller.close()
    if set(statuses) != {expected}:
        raise SystemExit(f"answers other than {expected}: {sorted(set(statuses))}")


def _requests(
    kind: str, app: Any, directory: Any, caller: Any, every: int, users: int
) -> tuple[list[tuple[str, str, bytes]], int]:
    """The ``every`` requests of ``kind`` (what they need made first), and their status."""
    from breakdown import create_body, user_name_query

    base = f"/scim/v2/{directory.directory_id}"
    if kind in SYNC_KINDS:
        return _sync_requests(kind, app, directory, caller, every)
    made = [("POST", f"{base}/Users", create_body(n, "made")) for n in range(users)]
    caller.cpu_us_per_request(made, 8)
    if kind == "lookup":
        names = [f"made-{n % users}@bench.example.com" for n in range(every)]
        return [("GET", f"{base}/Users?{user_name_query(name)}", b"") for name in names], 200
    return [("POST", f"{base}/Users", create_body(n, "new")) for n in range(every)], 201


def _sync_requests(
    kind: str, app: Any, directory: Any, caller: Any, every: int
) -> tuple[list[tuple[str, str, bytes]], int]:
    """Entra's manager or member PATCHes, with the users and groups they change made first."""
    from breakdown import (
        GROUP_SCHEMA,
        MEMBERS_EACH,
        SYNC_GROUPS,
        _ids,
        _json,
        manager_patch,
        members_patch,
    )

    from scimgate.simulator.dialects import DIALECTS
    from scimgate.simulator.population import generate

    entra = DIALECTS["entra"]
    base = f"/scim/v2/{directory.directory_id}"
    population = generate(every * MEMBERS_EACH + 1 if kind == "members" else every + 1, 1)
    made = [
        ("POST", f"{base}/Users", _json(entra.user_body(person, population.domain)))
        for person in population.people
    ]
    made += [
        ("POST", f"{base}/Groups", _json({"schemas": [GROUP_SCHEMA], "displayName": f"g{n}"}))
        for n in range(SYNC_GROUPS if kind == "members" else 0)
    ]
    caller.cpu_us_per_request(made, 8)
    ids = _ids(app, "users", directory.directory_id)
    if kind == "manager":
        return [manager_patch(base, ids[n], ids[n + 1]) for n in range(every)], 200
    groups = _ids(app, "groups", directory.directory_id)
    return [
        members_patch(base, groups[n % SYNC_GROUPS], ids[n * MEMBERS_EACH : (n + 1) * MEMBERS_EACH])
        for n in range(every)
    ], 204


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
    parser.add_argument("--kind", choices=(*KINDS, "both", *SYNC_KINDS), default="both")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--warm-up", type=int, default=200)
    parser.add_argument("--users", type=int, default=300)
    options = parser.parse_args()
    for kind in KINDS if options.kind == "both" else (options.kind,):
        found = count(kind, options.requests, options.warm_up, options.users)
        print(f"{kind}: {found:,} instructions a request")


if __name__ == "__main__":
    main()
