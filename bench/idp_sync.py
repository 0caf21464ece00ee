"""W5's load generator: scimgate's IdP simulator, run as its own process, at a given concurrency.

Runs the simulator's lifecycle (``scimgate.simulator``) against any SCIM base
URL and prints one JSON line: the requests, the wall time, and each step's
requests, failures, seconds and latencies, with the first failures. Its own
process, so that its CPU is not the benchmark's and can be told apart from the
server's.

    python bench/idp_sync.py --url URL --token TOKEN [--idp entra] [--users 10000]
                             [--groups 200] [--concurrency 8]
"""

import argparse
import json
import time
from dataclasses import asdict

from scimgate.simulator import lifecycle
from scimgate.simulator.dialects import DIALECTS
from scimgate.simulator.population import generate

RESULT_PREFIX = "IDP-SYNC "

LEAVERS_PERCENT = 10
"""W5's leavers: one person in ten, as every W5 measurement so far (the simulator's own
default is lower, to stay under the safety valve; the servers benchmarked hold nothing)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--idp", default="entra", choices=sorted(DIALECTS))
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=1)
    options = parser.parse_args()
    population = generate(options.users, options.groups)
    began = time.perf_counter()
    report = lifecycle.run(
        options.url,
        options.token,
        DIALECTS[options.idp],
        population,
        options.concurrency,
        LEAVERS_PERCENT,
    )
    seconds = time.perf_counter() - began
    steps = {
        step.name: {
            "requests": step.requests,
            "failures": step.failures,
            "seconds": round(step.seconds, 3),
            "p50_ms": round(step.p50, 2),
            "p99_ms": round(step.p99, 2),
        }
        for step in report.steps
    }
    summary = {
        "requests": report.requests,
        "seconds": round(seconds, 3),
        "steps": steps,
        "failures": len(report.failures),
        "first_failures": [asdict(failure) for failure in report.failures[:5]],
    }
    print(RESULT_PREFIX + json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
