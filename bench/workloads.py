"""W1 to W4: what identity providers send all day, driven by wrk against any server.

Each function takes a running ``Server`` and what it holds, sends the same
requests whatever answers them (scimgate, the peer, the ceiling), and returns
one ``Measurement`` per case. Case names say the size, so rows of different
servers line up in the table.

- W1 creates users with unique userNames at concurrency 8.
- W2 looks users up by ``userName eq`` at concurrency 8, and sends Okta's profile
  updates (a PUT of each user as read, changed) at concurrency 8.
- W3 reads pages of 100 one at a time: the first and the last pages of a
  sequential walk (startIndex 1, 101, 201…, as IdPs walk), cold jumps near the
  end to pages no walk reached, and at the smaller size a whole sweep.
- W4 adds and removes one group member in Entra's and Okta's forms, and reads
  the group without its members, one at a time, per group size.
"""

import json
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

import httpx
from load import ONE_AT_A_TIME, LoadResult, Request, Shape, run_wrk
from measurements import Measurement
from servers import Server, peak_rss_mib, tree_cpu_seconds

PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
PAGE = 100
LOOKUPS = 5_000
"""Distinct users W2 looks up, in a random order, over and over for its duration."""
THROUGHPUT_KIND = "throughput"
LATENCY_KIND = "latency"
"""``notes["kind"]``: a case is compared by its throughput (concurrency 8) or by its p50 (one
request at a time)."""


@dataclass(frozen=True)
class Settings:
    """How long and how much each case runs."""

    throughput_seconds: float
    latency_requests: int
    """Requests per one-at-a-time case (also distinct members added per W4 case)."""

    walk_pages: int
    """Pages timed at each end of a sequential walk."""

    cold_jumps: int
    """Pages timed that no walk led to."""

    def throughput(self) -> Shape:
        return Shape(threads=2, connections=8, seconds=self.throughput_seconds)


@dataclass(frozen=True)
class Population:
    """The users a server holds: how many, and the userName of the n-th."""

    users: int
    user_name: Callable[[int], str]


@dataclass(frozen=True)
class GroupSet:
    """Groups of several sizes, and users in none of them to add and remove."""

    group_ids: dict[int, str]
    spare_user_ids: list[str]


def measurement(
    workload: str, case: str, server: Server, result: LoadResult, kind: str
) -> Measurement:
    """A table row from a wrk run; a failed run keeps its statuses and counts no throughput."""
    notes: dict[str, object] = {
        "kind": kind,
        "statuses": {str(status): n for status, n in sorted(result.statuses.items())},
    }
    if result.failed:
        notes |= {"failed": True, "failure": result.failure(), "answered": result.requests}
    return Measurement(
        workload=workload,
        case=case,
        server=server.name,
        requests=0 if result.failed else result.requests,
        seconds=result.seconds,
        p50_ms=None if result.failed else result.p50_ms,
        p99_ms=None if result.failed else result.p99_ms,
        peak_rss_mib=peak_rss_mib(server.pid),
        notes=notes,
    )


def sized(count: int) -> str:
    return f"{count:,}"


# W1


W1_CASE = "POST /Users, unique userNames"


def w1_create_users(server: Server, settings: Settings, run_id: str) -> Measurement:
    """Creates at concurrency 8, with the server's CPU time per create (its whole process tree
    over the run, divided by the creates answered)."""
    before = tree_cpu_seconds(server.pid)
    result = run_wrk(
        server, "create_users", shape=settings.throughput(), expected=[201], run_id=run_id
    )
    cpu = tree_cpu_seconds(server.pid) - before
    return _noting_cpu(measurement("W1", W1_CASE, server, result, THROUGHPUT_KIND), cpu)


def _noting_cpu(measured: Measurement, cpu: float) -> Measurement:
    """The measurement with the server's CPU time over the run (its whole process tree) and
    per request answered in its notes: what two versions of a server compare by without
    the peer's run between them."""
    measured.notes["server_cpu_s"] = round(cpu, 3)
    if measured.requests:
        measured.notes["cpu_us_per_request"] = round(1e6 * cpu / measured.requests, 1)
    return measured


# W2


def lookup_case(users: int) -> str:
    return f'filter userName eq "…", {sized(users)} users'


def w2_lookups(server: Server, population: Population, settings: Settings) -> Measurement:
    # The same number of distinct users at every size, each looked up again once the list has
    # gone round, so that each size writes the same share of drift confirmations.
    picked = random.Random(2).sample(range(population.users), min(LOOKUPS, population.users))
    names = [population.user_name(n) for n in picked]
    _check_lookup(server, names[0])
    requests = [Request("GET", lookup_path(name)) for name in names]
    before = tree_cpu_seconds(server.pid)
    result = _over_and_over(server, requests, settings)
    cpu = tree_cpu_seconds(server.pid) - before
    return _noting_cpu(
        measurement("W2", lookup_case(population.users), server, result, THROUGHPUT_KIND), cpu
    )


def _over_and_over(server: Server, requests: list[Request], settings: Settings) -> LoadResult:
    """The requests at concurrency 8, the list started again until the run's time is up;
    every answer must be 200."""
    return run_wrk(
        server,
        "requests",
        shape=settings.throughput(),
        expected=[200],
        requests=requests,
        cycle=True,
    )


PROFILE_UPDATES = 1_000
"""Distinct users W2's profile updates change, each with two titles in turn."""


def profile_update_case(users: int) -> str:
    return f"PUT /Users/{{id}}, Okta's profile update, {sized(users)} users"


def w2_profile_updates(server: Server, population: Population, settings: Settings) -> Measurement:
    """Okta's profile update (PUT): a user as a read of it returned, its title changed, sent
    back whole, at concurrency 8, with the server's CPU time per update. Each user is on the
    list twice, with two titles, so that every PUT changes its user, round after round."""
    picked = random.Random(3).sample(
        range(population.users), min(PROFILE_UPDATES, population.users)
    )
    read = [_read_user(server, population.user_name(n)) for n in picked]
    requests = [
        Request("PUT", f"/Users/{user['id']}", json.dumps({**user, "title": title}))
        for title in ("Principal", "Staff")
        for user in read
    ]
    before = tree_cpu_seconds(server.pid)
    result = _over_and_over(server, requests, settings)
    cpu = tree_cpu_seconds(server.pid) - before
    return _noting_cpu(
        measurement("W2", profile_update_case(population.users), server, result, THROUGHPUT_KIND),
        cpu,
    )


def _read_user(server: Server, user_name: str) -> dict[str, object]:
    """The user as the server answers a lookup of it, as Okta reads it before a PUT."""
    found = _get(server, lookup_path(user_name)).get("Resources", [])
    if not isinstance(found, list) or len(found) != 1:
        raise RuntimeError(f"{server.name}: looking up {user_name} found no single user")
    user: dict[str, object] = found[0]
    return user


def lookup_path(user_name: str) -> str:
    return "/Users?filter=" + quote(f'userName eq "{user_name}"', safe="")


def _check_lookup(server: Server, user_name: str) -> None:
    """A lookup must find its user: a fast empty answer is not a lookup."""
    if server.name == "ceiling":
        return
    found = _get(server, lookup_path(user_name)).get("Resources", [])
    if [user.get("userName") for user in found] != [user_name]:
        raise RuntimeError(f"{server.name}: looking up {user_name} found {len(found)} users")


# W3
#
# Every timed page is one nobody has read before in this run. scimgate marks
# what an IdP reads as confirmed (drift detection), writing at most once a
# minute per user, and an IdP's walk comes once per cycle: so a realistic page
# read includes that write, and repeating the same page would time a cheaper
# request than any IdP sends. The whole sweep therefore runs on a server of its
# own, over a directory nobody has read.


def first_pages_case(users: int) -> str:
    return f"page of 100: first pages of a walk, {sized(users)} users"


def last_pages_case(users: int) -> str:
    return f"page of 100: last pages of a walk, {sized(users)} users"


def cold_jump_case(users: int) -> str:
    return f"page of 100: cold jump near the end (not walked), {sized(users)} users"


def sweep_case(users: int) -> str:
    return f"whole sweep by pages of 100 (pages/s), {sized(users)} users"


def page_path(start_index: int) -> str:
    return f"/Users?startIndex={start_index}&count={PAGE}"


def w3_pages(server: Server, population: Population, settings: Settings) -> list[Measurement]:
    """The first pages of a walk, the last pages of a walk, and cold jumps to unread pages."""
    users, walked = population.users, settings.walk_pages
    last = (users - 1) // PAGE * PAGE + 1
    tail_start = max(1, last - PAGE * walked)
    first = [page_path(start) for start in range(1, min(last, PAGE * walked) + 1, PAGE)]
    # Cold jumps land between the two walked ends, off the walk's positions, on unread rows.
    jumps = [tail_start - PAGE * jump - PAGE // 2 for jump in range(1, settings.cold_jumps + 1)]
    jumps = [start for start in jumps if start > PAGE * walked]
    return [
        _latency("W3", first_pages_case(users), server, first),
        _walk_end(server, population, tail_start, last),
        _latency("W3", cold_jump_case(users), server, [page_path(start) for start in jumps]),
    ]


def w3_sweep(server: Server, population: Population) -> Measurement:
    """Every page in order, as an IdP's import walks them, on a directory nobody has read."""
    last = (population.users - 1) // PAGE * PAGE + 1
    pages = [page_path(start) for start in range(1, last + 1, PAGE)]
    return _latency("W3", sweep_case(population.users), server, pages)


def _walk_end(server: Server, population: Population, tail_start: int, last: int) -> Measurement:
    """The last pages of a walk, each reached from the page before it.

    The walk starts with one untimed page: what a server remembers of a walk is
    where the previous page ended, so the pages after it are served exactly as
    in a walk from the first page.
    """
    _get(server, page_path(tail_start))
    pages = [page_path(start) for start in range(tail_start + PAGE, last + 1, PAGE)]
    return _latency("W3", last_pages_case(population.users), server, pages)


# W4


def add_case(dialect: str, size: int) -> str:
    return f"add 1 member ({dialect}), group of {sized(size)}"


def remove_case(dialect: str, size: int) -> str:
    return f"remove 1 member ({dialect}), group of {sized(size)}"


def slim_read_case(size: int) -> str:
    return f"GET group, excludedAttributes=members, group of {sized(size)}"


def entra_add(user_id: str) -> dict[str, object]:
    return {"op": "Add", "path": "members", "value": [{"value": user_id}]}


def entra_remove(user_id: str) -> dict[str, object]:
    return {"op": "Remove", "path": "members", "value": [{"value": user_id}]}


def okta_add(user_id: str) -> dict[str, object]:
    return {"op": "add", "path": "members", "value": [{"value": user_id, "display": "Bench"}]}


def okta_remove(user_id: str) -> dict[str, object]:
    return {"op": "remove", "path": f'members[value eq "{user_id}"]'}


DIALECTS: dict[
    str, tuple[Callable[[str], dict[str, object]], Callable[[str], dict[str, object]]]
] = {
    "Entra": (entra_add, entra_remove),
    "Okta": (okta_add, okta_remove),
}


def w4_membership(
    server: Server, groups: GroupSet, settings: Settings, sizes: Sequence[int], requests: int = 0
) -> list[Measurement]:
    """Per group size: each dialect adds ``requests`` distinct members one by one, then removes
    them, and the group is read without members; the group ends as it started."""
    count = requests or settings.latency_requests
    members = groups.spare_user_ids[:count]
    measured: list[Measurement] = []
    for size in sizes:
        path = f"/Groups/{groups.group_ids[size]}"
        for dialect, (add, remove) in DIALECTS.items():
            measured.append(_patches(server, add_case(dialect, size), path, map(add, members)))
            measured.append(
                _patches(server, remove_case(dialect, size), path, map(remove, members))
            )
        slim = [f"{path}?excludedAttributes=members"] * count
        measured.append(_latency("W4", slim_read_case(size), server, slim))
    return measured


def _patches(
    server: Server, case: str, path: str, operations: Iterable[dict[str, object]]
) -> Measurement:
    requests = [
        Request("PATCH", path, json.dumps({"schemas": [PATCH_SCHEMA], "Operations": [op]}))
        for op in operations
    ]
    result = run_wrk(
        server, "requests", shape=ONE_AT_A_TIME, expected=[200, 204], requests=requests
    )
    return measurement("W4", case, server, result, LATENCY_KIND)


# Shared


def _latency(workload: str, case: str, server: Server, paths: list[str]) -> Measurement:
    requests = [Request("GET", path) for path in paths]
    result = run_wrk(server, "requests", shape=ONE_AT_A_TIME, expected=[200], requests=requests)
    return measurement(workload, case, server, result, LATENCY_KIND)


def _get(server: Server, path: str) -> dict[str, object]:
    answer = httpx.get(server.base_url + path, headers=server.headers, timeout=120)
    if answer.status_code != 200:
        raise RuntimeError(f"{server.name}: GET {path} answered {answer.status_code}")
    found: dict[str, object] = answer.json()
    return found
