"""The reference peer: scim2-server (python-scim), served as fairly as scimgate.

``scim2-server`` is a library that serves SCIM over any storage, with an
in-memory storage, WSGI and ASGI applications, and a ``scim2-server`` command
for tests and demos. It lives in its own virtual environment,
``bench/.peer-venv``, built from the pins of ``bench/peer-requirements.txt``:
it never shares scimgate's environment.

How it is served, and why
-------------------------
The ``scim2-server`` command serves the in-memory storage with the standard
library's ``wsgiref`` server (a thread per request, HTTP/1.0 so a new
connection per request, and a log line on stderr per request): a test server,
as its help says. Its "Deploy the server" guide serves the WSGI application
with Gunicorn or the ASGI application with Uvicorn, and says to run a single
worker with the in-memory storage, whose resources live in the process.

So the peer runs the way that guide serves the ASGI application: its
``ASGIApplication`` over ``AsyncInMemoryStorage``, in one uvicorn process with
uvloop and httptools, the server and releases scimgate runs on. Both then
parse HTTP with the same code, on one core each, and the comparison is of the
SCIM work behind it. Fairness, item by item:

- one process, as ``scimgate serve`` runs (the in-memory storage cannot be
  shared by more);
- a static bearer token checked on every request, as the command's
  ``--bearer-token`` does (the check is the command's, on the ASGI class);
- no access log, and only warnings logged, as scimgate's benchmark server
  writes its own lines to a discarded stderr;
- the scim2-models policy scimgate serves with: a ``remove`` carrying a
  ``value`` removes those entries, as Microsoft Entra sends it, and a path
  filter matching nothing creates the entry. With its default (strict RFC)
  policy the peer refuses Entra's member removal with a 400 (see
  ``SUPPORTED``), and the benchmark would time an error instead of a removal.

The storage keeps everything in memory: no database, no provisioning log, no
events. That is the peer's advantage, and the reason it is a reference.

Seeding goes through the peer's Bulk endpoint, ``maxOperations`` users a
request (1,000): each user is validated as a ``POST /Users`` body is and
stored by the same ``create`` of the storage, without a round trip each.
That is 1.5 to 2.5 times the rate of single creates at concurrency 8, and
more requests in flight do not raise it (the peer does the work on one
core). A 10,000-user directory takes about 8 seconds.

    python bench/peer.py [--users 1000]

builds the environment, starts the peer, seeds users, sends every request kind
the suite sends once, and prints what the peer answered.
"""

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
from servers import Server, as_server, free_port, wait_until_answering

HERE = Path(__file__).resolve().parent
PEER_VENV = HERE / ".peer-venv"
REQUIREMENTS = HERE / "peer-requirements.txt"

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"

SERVE_PEER = """
import sys

import uvicorn
from scim2_models import ScimPolicy, ScimProvider, UnauthorizedException
from scim2_server.applications.asgi import ASGIApplication
from scim2_server.memory import AsyncInMemoryStorage
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME
from scim2_server.utils import (
    load_default_resource_types,
    load_default_schemas,
    load_default_service_provider_config,
)

port, token = int(sys.argv[1]), sys.argv[2]


class BearerTokenASGIApplication(ASGIApplication):
    def check_auth(self, request):
        scheme, _, given = (request.header("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or given != token:
            raise UnauthorizedException


config = load_default_service_provider_config()
config.authentication_schemes = [BEARER_TOKEN_SCHEME]
policy = ScimPolicy(
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)
provider = ScimProvider.from_discovery(
    load_default_schemas().values(),
    load_default_resource_types().values(),
    config=config,
    policy=policy,
)
application = BearerTokenASGIApplication(AsyncInMemoryStorage(), provider)
uvicorn.run(application, host="127.0.0.1", port=port, log_level="warning", access_log=False)
"""
"""Run by the peer's Python with the port and the token: the ASGI application
of scim2-server over its in-memory storage, under uvicorn (see the module's
docstring for each choice)."""


# -- The environment -------------------------------------------------------


def ensure_peer_venv() -> Path:
    """The peer's Python, in ``bench/.peer-venv`` holding exactly the pinned releases, on
    the interpreter that runs the benchmark (and scimgate).

    The environment is rebuilt from scratch when it is missing, when any pinned
    distribution is absent or at another version, or when it was made from another
    interpreter: the build of CPython alone moves a request's CPU by a sixth (see the
    README), so the two servers compared must run on the same one.
    """
    python = PEER_VENV / "bin" / "python"
    pins = pinned_releases()
    if python.exists() and ours(python) and installed_releases(python, list(pins)) == pins:
        return python
    shutil.rmtree(PEER_VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
    pip = [str(python), "-m", "pip", "--disable-pip-version-check", "--no-input", "--quiet"]
    subprocess.run([*pip, "install", "--requirement", str(REQUIREMENTS)], check=True)
    found = installed_releases(python, list(pins))
    if found != pins:
        wrong = {name: found[name] for name in pins if found[name] != pins[name]}
        raise RuntimeError(f"the peer's environment did not get its pins: {wrong}")
    return python


def pinned_releases() -> dict[str, str]:
    """``name == version`` of every line of the requirements, by normalized name."""
    pins = {}
    for line in REQUIREMENTS.read_text().splitlines():
        requirement = line.partition("#")[0].strip()
        if not requirement:
            continue
        name, separator, version = requirement.partition("==")
        if not separator:
            raise ValueError(f"{REQUIREMENTS.name}: not pinned to one version: {line!r}")
        pins[normalized(name)] = version.strip()
    return pins


def ours(python: Path) -> bool:
    """Whether an environment's Python is the interpreter running this benchmark."""
    return interpreter_of(python) == (sys.base_prefix, sys.version)


def interpreter_of(python: Path) -> tuple[str, str]:
    """What tells interpreters apart: the installation an environment was made from (its
    ``sys.base_prefix``) and its ``sys.version``, which names the release and the build."""
    shown = subprocess.run(
        [str(python), "-c", "import sys; print(sys.base_prefix); print(sys.version)"],
        check=True,
        capture_output=True,
        text=True,
    )
    base, _, version = shown.stdout.rstrip("\n").partition("\n")
    return base, version


def installed_releases(python: Path, names: list[str]) -> dict[str, str | None]:
    """The installed version of each distribution in an environment (None if absent)."""
    script = (
        "import json, sys\n"
        "from importlib.metadata import PackageNotFoundError, version\n"
        "def find(name):\n"
        "    try:\n"
        "        return version(name)\n"
        "    except PackageNotFoundError:\n"
        "        return None\n"
        "print(json.dumps({name: find(name) for name in sys.argv[1:]}))\n"
    )
    shown = subprocess.run(
        [str(python), "-c", script, *names], check=True, capture_output=True, text=True
    )
    found: dict[str, str | None] = json.loads(shown.stdout)
    return found


def normalized(name: str) -> str:
    """A distribution's name as PEP 503 compares it (``pydantic_core`` is ``pydantic-core``)."""
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


# -- The server ------------------------------------------------------------


@contextmanager
def scim2_server() -> Iterator[Server]:
    """scim2-server on a free loopback port, in its own process, stopped afterwards."""
    python = ensure_peer_venv()
    port = free_port()
    token = secrets.token_urlsafe(24)
    root = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            as_server([str(python), "-c", SERVE_PEER, str(port), token]),
            cwd=HERE,
            env={key: value for key, value in os.environ.items() if key != "PYTHONPATH"},
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        try:
            _wait_for_peer(f"{root}/v2/ServiceProviderConfig", process, errors)
            yield Server(
                name="scim2-server",
                base_url=f"{root}/v2",
                pid=process.pid,
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/scim+json",
                },
            )
        finally:
            process.terminate()
            process.wait(timeout=30)


def _wait_for_peer(url: str, process: subprocess.Popen[bytes], errors: IO[bytes]) -> None:
    """Wait until the peer answers; if it exits or stays silent for a minute, show its stderr."""
    try:
        wait_until_answering(url, process)
    except RuntimeError as failed:
        process.kill()
        process.wait()
        errors.seek(0)
        printed = errors.read().decode(errors="replace")[-2000:]
        raise RuntimeError(f"scim2-server did not start ({failed}):\n{printed}") from None


# -- Bringing the peer to a state -----------------------------------------


def user_name(n: int) -> str:
    return f"user{n}@bench.example.com"


def user_body(n: int) -> dict[str, Any]:
    """A realistic user of about 350 bytes, as identity providers create them."""
    return {
        "schemas": [USER_SCHEMA],
        "userName": user_name(n),
        "externalId": f"ext-{n:08d}",
        "name": {"givenName": "Alex", "familyName": f"Bench{n}"},
        "displayName": f"Alex Bench{n}",
        "emails": [{"value": user_name(n), "type": "work", "primary": True}],
        "active": True,
        "title": "Software Engineer",
    }


@dataclass(frozen=True)
class BulkLimits:
    """What the peer's ServiceProviderConfig allows a Bulk request to hold."""

    max_operations: int
    max_payload_size: int


def bulk_limits(client: httpx.Client, server: Server) -> BulkLimits:
    config = client.get(f"{server.base_url}/ServiceProviderConfig").raise_for_status().json()
    bulk = config["bulk"]
    if not bulk.get("supported"):
        raise RuntimeError("the peer does not announce Bulk support")
    return BulkLimits(bulk["maxOperations"], bulk["maxPayloadSize"])


def seed_users(server: Server, count: int, start: int = 0) -> list[str]:
    """Create users ``start`` … ``start + count - 1`` through Bulk; their ids, in order."""
    with httpx.Client(headers=server.headers, timeout=300) as client:
        limits = bulk_limits(client, server)
        ids: list[str] = []
        for first in range(start, start + count, limits.max_operations):
            last = min(first + limits.max_operations, start + count)
            ids += _bulk_create(
                client, server, limits, "/Users", map(user_body, range(first, last))
            )
        return ids


def _bulk_create(
    client: httpx.Client,
    server: Server,
    limits: BulkLimits,
    endpoint: str,
    bodies: Iterator[dict[str, Any]],
) -> list[str]:
    """POST resources in one Bulk request; their ids, in the order sent."""
    operations = [
        {"method": "POST", "path": endpoint, "bulkId": str(index), "data": body}
        for index, body in enumerate(bodies)
    ]
    payload = json.dumps({"schemas": [BULK_SCHEMA], "Operations": operations}).encode()
    if len(payload) > limits.max_payload_size:
        raise ValueError(f"a Bulk request of {len(payload)} bytes exceeds the peer's limit")
    answer = client.post(f"{server.base_url}/Bulk", content=payload).raise_for_status().json()
    results = sorted(answer["Operations"], key=lambda result: int(result["bulkId"]))
    failed = [result for result in results if result["status"] != "201"]
    if failed or len(results) != len(operations):
        raise RuntimeError(f"the peer refused {len(failed)} creations, first: {failed[:1]}")
    return [result["location"].rsplit("/", 1)[1] for result in results]


def make_group(server: Server, member_ids: list[str], display_name: str = "bench group") -> str:
    """Create a group holding ``member_ids`` in one ``POST /Groups``; its id."""
    body = {
        "schemas": [GROUP_SCHEMA],
        "displayName": display_name,
        "members": [{"value": member_id} for member_id in member_ids],
    }
    with httpx.Client(headers=server.headers, timeout=300) as client:
        created = client.post(f"{server.base_url}/Groups", json=body).raise_for_status()
        group_id: str = created.json()["id"]
        return group_id


# -- What the peer answers correctly ---------------------------------------


@dataclass(frozen=True)
class Support:
    """Whether the peer answers a request kind correctly (status and body), and why."""

    supported: bool
    reason: str


SUPPORTED: dict[str, Support] = {
    "create_user": Support(True, "201; the body echoes every attribute, with id and meta"),
    "lookup_by_username": Support(
        True, '200, exactly one match for userName eq "…" (indexed on first use)'
    ),
    "page_of_100": Support(
        True, "200, startIndex and itemsPerPage as asked, 100 Resources, totalResults exact"
    ),
    "create_group": Support(True, "201; the body lists every member sent"),
    "add_member_entra": Support(True, "204 no body; the member is then listed"),
    "add_member_okta": Support(True, "204 no body; the member is then listed"),
    "remove_member_entra": Support(
        True,
        "204 as served here (scimgate's policy, remove_value_as_filter=apply); "
        "with scim2-server's default policy: 400 invalidValue "
        '"a remove operation carries no value"',
    ),
    "remove_member_okta": Support(True, "204 no body; the member is then gone"),
    "get_group_without_members": Support(True, "200, the group without a members attribute"),
    "add_existing_member": Support(
        False,
        "204, but the member is then listed twice: an add of a member already in the group "
        "appends a duplicate instead of changing nothing",
    ),
}
"""Request kinds the suite sends to scimgate and the peer, as the peer answered them."""


@dataclass(frozen=True)
class Observation:
    """What the peer answered to one request kind."""

    kind: str
    status: int
    correct: bool
    seen: str


Check = Callable[[httpx.Client, str], Observation]


def check_request_kinds(server: Server, user_ids: list[str]) -> list[Observation]:
    """Send each request kind once (``user_ids`` are seeded users ``0`` … ``n``)."""
    with httpx.Client(headers=server.headers, timeout=60) as client:
        base = server.base_url
        observations = [
            _create_user(client, base),
            _lookup_by_username(client, base, len(user_ids)),
            _page_of_100(client, base),
        ]
        group, created = _create_group(client, base, user_ids[:10])
        observations.append(created)
        one, two = user_ids[10], user_ids[11]
        observations += [
            _patch_members(client, base, group, "add_member_entra", _entra_add(one), one, 1),
            _patch_members(client, base, group, "add_member_okta", _okta_add(two), two, 1),
            _patch_members(client, base, group, "remove_member_entra", _entra_remove(one), one, 0),
            _patch_members(client, base, group, "remove_member_okta", _okta_remove(two), two, 0),
            _patch_members(
                client, base, group, "add_existing_member", _okta_add(user_ids[0]), user_ids[0], 1
            ),
            _group_without_members(client, base, group),
        ]
        return observations


def _create_user(client: httpx.Client, base: str) -> Observation:
    body = user_body(10**9)
    answer = client.post(f"{base}/Users", json=body)
    got = answer.json()
    echoed = all(got.get(key) == value for key, value in body.items() if key != "schemas")
    correct = answer.status_code == 201 and echoed and bool(got.get("id"))
    seen = f"{len(json.dumps(body))}-byte body; attributes echoed: {echoed}"
    return Observation("create_user", answer.status_code, correct, seen)


def _lookup_by_username(client: httpx.Client, base: str, seeded: int) -> Observation:
    wanted = user_name(seeded // 2)
    answer = client.get(f"{base}/Users", params={"filter": f'userName eq "{wanted}"'})
    found = [user["userName"] for user in answer.json().get("Resources", [])]
    correct = answer.status_code == 200 and found == [wanted]
    return Observation("lookup_by_username", answer.status_code, correct, f"found {found}")


def _page_of_100(client: httpx.Client, base: str) -> Observation:
    total = client.get(f"{base}/Users", params={"count": 0}).json()["totalResults"]
    start = max(total - 150, 1)
    answer = client.get(f"{base}/Users", params={"startIndex": start, "count": 100})
    got = answer.json()
    resources = got.get("Resources", [])
    correct = (
        answer.status_code == 200
        and got.get("startIndex") == start
        and got.get("itemsPerPage") == len(resources) == 100
        and got.get("totalResults") == total
    )
    seen = (
        f"startIndex {got.get('startIndex')}, itemsPerPage {got.get('itemsPerPage')}, "
        f"{len(resources)} Resources, totalResults {got.get('totalResults')} of {total}"
    )
    return Observation("page_of_100", answer.status_code, correct, seen)


def _create_group(
    client: httpx.Client, base: str, member_ids: list[str]
) -> tuple[str, Observation]:
    body = {
        "schemas": [GROUP_SCHEMA],
        "displayName": "request kinds",
        "members": [{"value": member_id} for member_id in member_ids],
    }
    answer = client.post(f"{base}/Groups", json=body)
    got = answer.json()
    listed = sorted(member["value"] for member in got.get("members", []))
    correct = answer.status_code == 201 and listed == sorted(member_ids)
    seen = f"{len(listed)} of {len(member_ids)} members listed"
    return got.get("id", ""), Observation("create_group", answer.status_code, correct, seen)


def _entra_add(user_id: str) -> dict[str, Any]:
    return {"op": "Add", "path": "members", "value": [{"value": user_id}]}


def _okta_add(user_id: str) -> dict[str, Any]:
    return {"op": "add", "path": "members", "value": [{"value": user_id, "display": "Alex"}]}


def _entra_remove(user_id: str) -> dict[str, Any]:
    return {"op": "Remove", "path": "members", "value": [{"value": user_id}]}


def _okta_remove(user_id: str) -> dict[str, Any]:
    return {"op": "remove", "path": f'members[value eq "{user_id}"]'}


def _patch_members(
    client: httpx.Client,
    base: str,
    group_id: str,
    kind: str,
    operation: dict[str, Any],
    member_id: str,
    expected_times: int,
) -> Observation:
    """PATCH one operation, then read the group: is ``member_id`` listed as often as expected?"""
    body = {"schemas": [PATCH_SCHEMA], "Operations": [operation]}
    answer = client.patch(f"{base}/Groups/{group_id}", json=body)
    group = client.get(f"{base}/Groups/{group_id}").json()
    times = [member["value"] for member in group.get("members", [])].count(member_id)
    correct = answer.status_code in (200, 204) and times == expected_times
    error = answer.json().get("detail", "") if answer.status_code >= 400 else ""
    seen = f"member listed {times}x (expected {expected_times}x) {error}".strip()
    return Observation(kind, answer.status_code, correct, seen)


def _group_without_members(client: httpx.Client, base: str, group_id: str) -> Observation:
    answer = client.get(f"{base}/Groups/{group_id}", params={"excludedAttributes": "members"})
    got = answer.json()
    correct = answer.status_code == 200 and "members" not in got and "displayName" in got
    seen = f"attributes: {sorted(key for key in got if key != 'schemas')}"
    return Observation("get_group_without_members", answer.status_code, correct, seen)


# -- Self-check ------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--users", type=int, default=1000, help="users to seed (default 1000)")
    users = parser.parse_args().users
    started = time.perf_counter()
    python = ensure_peer_venv()
    print(f"peer environment ready in {time.perf_counter() - started:.1f} s: {python}")
    with scim2_server() as server:
        print(f"scim2-server answering at {server.base_url} (pid {server.pid})")
        started = time.perf_counter()
        user_ids = seed_users(server, users)
        seconds = time.perf_counter() - started
        print(f"seeded {len(user_ids):,} users in {seconds:.2f} s ({users / seconds:,.0f}/s)")
        print(f"\n| request kind | status | correct | expected | seen |\n|{' --- |' * 5}")
        for seen in check_request_kinds(server, user_ids):
            expected = SUPPORTED[seen.kind].supported
            print(f"| {seen.kind} | {seen.status} | {seen.correct} | {expected} | {seen.seen} |")


if __name__ == "__main__":
    main()
