"""Scale-out: the same load on one and on two server processes sharing one PostgreSQL.

Starts ``scimgate serve --workers N --no-worker`` on a new PostgreSQL database
for N = 1, then 2, and drives each with wrk from the suite's load generator:
creates with unique userNames, and ``userName eq`` lookups that find nobody
(an initial sync's existence checks), at 16 connections. Prints requests/s per
process count and the 2/1 ratio, and writes ``bench/results/scaling.{json,md}``.

On a 2-core machine wrk and PostgreSQL share the cores with the servers, so
the ratio shows how much a second process still finds to do, not what a
second machine would add.

    python bench/scaling.py [--seconds 15]
"""

import argparse
import json
import os
from pathlib import Path

from load import Request, Shape, run_wrk
from seed import postgresql_database
from servers import new_directories, peak_rss_mib, scimgate_server

RESULTS = Path(__file__).with_name("results")
PROCESSES = (1, 2)
LOOKUPS = 5_000


def measure(processes: int, seconds: float) -> dict[str, float]:
    shape = Shape(threads=2, connections=16, seconds=seconds)
    misses = [
        Request("GET", f"/Users?filter=userName%20eq%20%22absent{n}%40scaling.example%22")
        for n in range(LOOKUPS)
    ]
    label = f"scimgate (postgresql, {processes} process{'es' if processes > 1 else ''})"
    with postgresql_database() as url:
        [directory] = new_directories(url, name=f"scaling {processes}")
        with scimgate_server(url, directory, label=label, processes=processes) as server:
            creates = run_wrk(server, "create_users", shape=shape, expected=[201], run_id="scaling")
            lookups = run_wrk(
                server, "requests", shape=shape, expected=[200], requests=misses, cycle=True
            )
            memory = peak_rss_mib(server.pid)
    for name, result in (("creates", creates), ("lookups", lookups)):
        if result.failed:
            raise RuntimeError(f"{processes} process(es), {name}: {result.failure()}")
    return {
        "creates_per_s": creates.requests / creates.seconds,
        "creates_p99_ms": creates.p99_ms,
        "lookups_per_s": lookups.requests / lookups.seconds,
        "lookups_p99_ms": lookups.p99_ms,
        "peak_rss_mib": memory,
    }


def report(results: dict[int, dict[str, float]]) -> str:
    one, two = results[1], results[2]
    lines = [
        "| server processes | creates/s | p99 | lookups/s | p99 | peak RSS (all processes) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for processes, figures in results.items():
        lines.append(
            f"| {processes} | {figures['creates_per_s']:,.0f} | {figures['creates_p99_ms']:.1f} ms "
            f"| {figures['lookups_per_s']:,.0f} | {figures['lookups_p99_ms']:.1f} ms "
            f"| {figures['peak_rss_mib']:.0f} MiB |"
        )
    lines.append(
        f"| **2 / 1** | **{two['creates_per_s'] / one['creates_per_s']:.2f}x** | "
        f"| **{two['lookups_per_s'] / one['lookups_per_s']:.2f}x** | | |"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15)
    arguments = parser.parse_args()
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    results = {processes: measure(processes, arguments.seconds) for processes in PROCESSES}
    table = report(results)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scaling.md").write_text(table + "\n")
    (RESULTS / "scaling.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
