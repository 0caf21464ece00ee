"""Does a request cost the same in a small directory and a large one?

Builds a directory of N users and one group of N members at each size, starts
scimgate on it (a real server on loopback), and times over HTTP what identity
providers do all day: a ``userName eq`` lookup, adding and removing one group
member, reading a group without its members, and walking the user list page by
page. Prints p50/p99 per size and the large/small ratio of p50: about 1.0 means
the cost does not grow with the directory. Machines are shared and noisy, so
read the ratios, not the milliseconds.

    python bench/scale.py [--sizes 1000,100000] [--backend sqlite|postgresql|both]

Results are also written to ``bench/results/scale-<backend>.{json,md}``.
"""

import argparse
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from scale_fixtures import LargeDirectory, build_directory
from scimgate.service import tenants
from scimgate.store.engine import open_engine
from scimgate.store.migrate import upgrade

RESULTS = Path(__file__).with_name("results")
POSTGRES_DSN = "host=127.0.0.1 port=5432 user=postgres"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"

Timings = dict[str, list[float]]


@contextmanager
def database(backend: str) -> Iterator[str]:
    """An empty database on a backend, removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/scale.db"
        return
    name = f"scimgate_bench_{secrets.token_hex(4)}"
    with psycopg.connect(f"{POSTGRES_DSN} dbname=postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(f"{POSTGRES_DSN} dbname=postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def server(database_url: str) -> Iterator[str]:
    """scimgate in its own process on a loopback port."""
    port = 20000 + secrets.randbelow(20000)
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "scimgate.api.app:create_app",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        env={**os.environ, "SCIMGATE_DATABASE_URL": database_url},
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{url}/healthz")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait()


def timed(samples: list[float], call: Callable[[], httpx.Response], expected: int) -> None:
    started = time.perf_counter()
    response = call()
    samples.append((time.perf_counter() - started) * 1000)
    if response.status_code != expected:
        raise RuntimeError(f"{response.status_code}: {response.text[:300]}")


def measure(http: httpx.Client, directory: LargeDirectory, requests: int) -> Timings:
    timings: Timings = {name: [] for name in OPERATIONS}
    rng = random.Random(7)
    size = len(directory.user_ids)
    group = f"/Groups/{directory.group_id}"
    joiners = [
        http.post("/Users", json={"schemas": [USER], "userName": f"joiner{n}@example.com"}).json()
        for n in range(requests)
    ]
    for joiner in joiners:
        n = rng.randrange(size)
        lookup = {"filter": f'userName eq "user{n}@scale.example.com"'}
        timed(timings["lookup userName eq"], partial(http.get, "/Users", params=lookup), 200)
        add = [{"op": "add", "path": "members", "value": [{"value": joiner["id"]}]}]
        timed(
            timings["PATCH add 1 member"],
            partial(http.patch, group, json={"schemas": [PATCH], "Operations": add}),
            204,
        )
        remove = [{"op": "remove", "path": f'members[value eq "{joiner["id"]}"]'}]
        timed(
            timings["PATCH remove 1 member"],
            partial(http.patch, group, json={"schemas": [PATCH], "Operations": remove}),
            204,
        )
        slim = {"excludedAttributes": "members"}
        timed(timings["GET group w/o members"], partial(http.get, group, params=slim), 200)
    pages: list[float] = []
    for start in range(1, size + 1, 100):
        page = {"startIndex": start, "count": 100}
        timed(pages, partial(http.get, "/Users", params=page), 200)
    timings["first 10 pages (100)"] = pages[:10]
    timings["last 10 pages (100)"] = pages[-10:]
    return timings


OPERATIONS = (
    "lookup userName eq",
    "PATCH add 1 member",
    "PATCH remove 1 member",
    "GET group w/o members",
    "first 10 pages (100)",
    "last 10 pages (100)",
)


def run_size(backend: str, size: int, requests: int) -> Timings:
    with database(backend) as url:
        engine = open_engine(url)
        upgrade(engine)
        started = time.perf_counter()
        directory = build_directory(engine, size)
        elapsed = time.perf_counter() - started
        print(f"  {backend}: built {size:,} users and members in {elapsed:.0f} s")
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
        token = tenants.create_token(engine, directory.scope.directory_id, "bench").secret
        engine.dispose()
        with server(url) as root:
            base = f"{root}/scim/v2/{directory.scope.directory_id}"
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
            with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
                return measure(http, directory, requests)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def report(backend: str, sizes: list[int], results: dict[int, Timings]) -> str:
    small, large = sizes[0], sizes[-1]
    header = (
        f"| {backend} | p50 @ {small:,} | p99 @ {small:,} | p50 @ {large:,} "
        f"| p99 @ {large:,} | p50 ratio |"
    )
    lines = [header, "|---|---:|---:|---:|---:|---:|"]
    for name in OPERATIONS:
        a, b = results[small][name], results[large][name]
        ratio = statistics.median(b) / statistics.median(a)
        lines.append(
            f"| {name} | {statistics.median(a):.2f} ms | {percentile(a, 0.99):.2f} ms "
            f"| {statistics.median(b):.2f} ms | {percentile(b, 0.99):.2f} ms | {ratio:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--requests", type=int, default=200)
    arguments = parser.parse_args()
    sizes = sorted(int(size) for size in arguments.sizes.split(","))
    backends = ("sqlite", "postgresql") if arguments.backend == "both" else (arguments.backend,)
    RESULTS.mkdir(exist_ok=True)
    for backend in backends:
        results = {size: run_size(backend, size, arguments.requests) for size in sizes}
        table = report(backend, sizes, results)
        print(table, end="\n\n")
        (RESULTS / f"scale-{backend}.md").write_text(table + "\n")
        (RESULTS / f"scale-{backend}.json").write_text(
            json.dumps(
                {
                    str(size): {k: sorted(v) for k, v in timing.items()}
                    for size, timing in results.items()
                }
            )
        )


if __name__ == "__main__":
    main()
