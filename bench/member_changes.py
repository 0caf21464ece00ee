"""Large member changes: how long one takes, and what it costs another directory meanwhile.

Seeds one directory with 20,000 users (SQLite, and PostgreSQL when one answers
at ``127.0.0.1:5432``), starts ``scimgate serve`` on it, and for each size adds
that many members to a new, empty group in one PATCH (Entra's and Okta's form:
``add`` on ``members`` with a list of ``{"value": id}``; 20,000 is about the
1 MB request limit), and puts the same members again with a PUT of the group.
While each request runs, a second directory creates users one at a time: its
creates' latencies show how long the change keeps other tenants waiting.
Prints one table, and writes ``bench/results/member_changes.{json,md}``.

    python bench/member_changes.py [--sizes 5000,20000] [--backend sqlite|postgresql|both]
"""

import argparse
import json
import os
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from seed import SeedSpec, build, empty_database, postgresql_reachable
from servers import BenchDirectory, new_directories, scimgate_server

RESULTS = Path(__file__).with_name("results")
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Neighbour:
    """Another directory creating users one at a time, in a thread, timing each create."""

    def __init__(self, root: str, directory: BenchDirectory) -> None:
        self.http = httpx.Client(
            base_url=f"{root}/scim/v2/{directory.directory_id}",
            headers={"Authorization": f"Bearer {directory.token}"},
            timeout=300,
        )
        self.latencies: list[float] = []
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)
        self._created = 0

    def __enter__(self) -> "Neighbour":
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._created += 1
            body = {"schemas": [USER_SCHEMA], "userName": f"n{time.time_ns()}-{self._created}"}
            started = time.perf_counter()
            answer = self.http.post("/Users", json=body)
            self.latencies.append(time.perf_counter() - started)
            if answer.status_code != 201:
                self.failures += 1
            time.sleep(0.02)


def measure_change(
    http: httpx.Client, root: str, neighbour: BenchDirectory, member_ids: list[str]
) -> dict[str, Any]:
    members = [{"value": member_id} for member_id in member_ids]
    created = http.post(
        "/Groups", json={"schemas": [GROUP_SCHEMA], "displayName": f"g{time.time_ns()}"}
    )
    created.raise_for_status()
    group_id = created.json()["id"]
    figures: dict[str, Any] = {"members": len(member_ids)}
    requests = {
        "patch_add": (
            "PATCH",
            {
                "schemas": [PATCH_SCHEMA],
                "Operations": [{"op": "add", "path": "members", "value": members}],
            },
        ),
        "put": ("PUT", {"schemas": [GROUP_SCHEMA], "displayName": "replaced", "members": members}),
    }
    for name, (method, body) in requests.items():
        if name == "put":
            # The PUT starts from an empty group too, so that it writes every member.
            emptied = http.patch(
                f"/Groups/{group_id}",
                json={
                    "schemas": [PATCH_SCHEMA],
                    "Operations": [{"op": "remove", "path": "members"}],
                },
            )
            emptied.raise_for_status()
        with Neighbour(root, neighbour) as others:
            time.sleep(0.3)
            started = time.perf_counter()
            answer = http.request(method, f"/Groups/{group_id}", json=body)
            seconds = time.perf_counter() - started
            time.sleep(0.3)
        figures[name] = {
            "status": answer.status_code,
            "seconds": seconds,
            "neighbour_creates": len(others.latencies),
            "neighbour_failures": others.failures,
            "neighbour_p50_ms": statistics.median(others.latencies) * 1000,
            "neighbour_max_ms": max(others.latencies) * 1000,
        }
    return figures


def measure(backend: str, sizes: list[int]) -> list[dict[str, Any]]:
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with empty_database(backend) as url:
        seed = build(url, SeedSpec(users=max(sizes), spare_users=max(sizes)))
        [neighbour] = new_directories(url, name="neighbour")
        with scimgate_server(url, seed.directory, label=f"scimgate ({backend})") as server:
            root = server.base_url.split("/scim/v2/")[0]
            with httpx.Client(
                base_url=server.base_url, headers=server.headers, timeout=600
            ) as http:
                return [
                    {
                        "backend": backend,
                        **measure_change(http, root, neighbour, seed.spare_user_ids[:size]),
                    }
                    for size in sizes
                ]


def report(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| backend | members | request | status | time "
        "| another directory's creates meanwhile: count, p50, max |",
        "|---|---:|---|---:|---:|---|",
    ]
    for row in rows:
        for name in ("patch_add", "put"):
            each = row[name]
            failures = (
                f", {each['neighbour_failures']} failed" if each["neighbour_failures"] else ""
            )
            lines.append(
                f"| {row['backend']} | {row['members']:,} | {name.replace('_', ' ')} "
                f"| {each['status']} "
                f"| {each['seconds']:.2f} s | {each['neighbour_creates']}, "
                f"{each['neighbour_p50_ms']:.0f} ms, {each['neighbour_max_ms']:.0f} ms{failures} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="5000,20000")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    arguments = parser.parse_args()
    sizes = [int(size) for size in arguments.sizes.split(",")]
    backends = ["sqlite", "postgresql"] if arguments.backend == "both" else [arguments.backend]
    if "postgresql" in backends and not postgresql_reachable():
        print("PostgreSQL does not answer: SQLite only")
        backends.remove("postgresql")
    rows = [row for backend in backends for row in measure(backend, sizes)]
    table = report(rows)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "member_changes.md").write_text(table + "\n")
    (RESULTS / "member_changes.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
