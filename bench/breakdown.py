"""Where a request's CPU goes: µs per stage of a create and of a lookup, in one process.

Each stage is timed alone, through the public function that does it, over a
loop of distinct requests, with ``time.process_time()`` (CPU time of the whole
process, every thread included, and unaffected by other processes on the
machine). The whole request is then timed through the ASGI application in the
same process, without a socket, so that

    edge overhead = whole request - sum of the stages

is what routing, dependency injection, middlewares and thread hops cost. A
stage that runs inside another (``document()`` inside the service call) is
shown but not summed. Each figure is the median of several rounds.

The application runs with its lifespan started, as ``scimgate serve`` runs it:
its garbage collector's settings (what was built to start frozen out of the
passes) and SQLite's checkpointing thread. Without them the figures counted
full collections of everything built to start, which a served process never
makes: a create at 8 in flight measured 797 µs against 476 µs with them, in one
run of each.

The stages are those of the request path when this was written: a stage whose
function is gone or takes other arguments is reported as not measured, with
the error, and the rest are still measured.

W5's requests (Microsoft Entra ID's initial sync, as the simulator sends it) are
also timed whole, each kind on its own, in a directory set to Entra ID, whose
profile's attribute mappings every user event reads: the lookup before a
create, the create, the manager PATCH and the ten-member group PATCH.

    python bench/breakdown.py [--rounds 5] [--per-round 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from servers import NO_RATE_LIMITS, BenchDirectory, new_directories

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
IN_FLIGHT = 8
"""Requests sent at a time for the whole request's second figure: W1's connections."""

CREATE, LOOKUP = "create (POST /Users)", 'lookup (GET /Users?filter=userName eq "…")'

SYNC_LOOKUP = "lookup of a user not yet there (GET /Users?filter=userName eq …)"
SYNC_MANAGER = "manager (PATCH /Users/{id}, one Add)"
SYNC_MEMBERS = "ten members (PATCH /Groups/{id}, ten Adds of one member each)"
SYNC_GROUPS = 20
"""Groups the member PATCHes spread over."""
MEMBERS_EACH = 10
"""Users a member PATCH adds."""

PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@dataclass
class Stage:
    name: str
    us: float | None
    """Median CPU µs per operation over the rounds; None when not measured."""

    within: str = ""
    """The stage this one runs inside, if any: then it is not part of the sum."""

    error: str = ""


@dataclass
class SyncRequest:
    """One kind of W5's Entra requests: median CPU µs per request over the rounds, sent
    ``IN_FLIGHT`` at a time through the ASGI app; None when not measured."""

    request: str
    us: float | None
    error: str = ""


@dataclass
class Breakdown:
    """One request kind: its stages, the whole request, and what the edge adds."""

    request: str
    stages: list[Stage] = field(default_factory=list)
    whole_us: float | None = None
    whole_error: str = ""
    together_us: float | None = None
    """The whole request again, with ``IN_FLIGHT`` requests sent at a time, as W1's
    connections send them: what writes committed together cost each."""

    @property
    def stages_us(self) -> float | None:
        summed = [s.us for s in self.stages if not s.within]
        return None if any(us is None for us in summed) else sum(us or 0 for us in summed)

    @property
    def edge_us(self) -> float | None:
        stages = self.stages_us
        return None if self.whole_us is None or stages is None else self.whole_us - stages

    def as_json(self) -> dict[str, Any]:
        return {
            "request": self.request,
            "stages": [asdict(stage) for stage in self.stages],
            "sum_of_stages_us": _rounded(self.stages_us),
            "whole_request_us": _rounded(self.whole_us),
            "whole_request_error": self.whole_error,
            "whole_request_in_flight_us": _rounded(self.together_us),
            "edge_overhead_us": _rounded(self.edge_us),
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


# Timing


def cpu_us_per_call(
    prepare: Callable[[int], Any], call: Callable[[Any], object], rounds: int, per_round: int
) -> float:
    """Median over ``rounds`` of CPU µs per ``call``; its arguments are made beforehand, untimed,
    by ``prepare(n)``, distinct for every call of the run."""
    results = []
    for round_number in range(rounds):
        arguments = [prepare(round_number * per_round + n) for n in range(per_round)]
        began = time.process_time()
        for each in arguments:
            call(each)
        results.append(1e6 * (time.process_time() - began) / per_round)
    return statistics.median(results)


def stage(
    name: str,
    prepare: Callable[[int], Any],
    call: Callable[[Any], object],
    rounds: int,
    per_round: int,
    within: str = "",
) -> Stage:
    try:
        return Stage(name, round(cpu_us_per_call(prepare, call, rounds, per_round), 1), within)
    except Exception as error:  # a stage renamed by a change of the request path
        return Stage(name, None, within, f"{type(error).__name__}: {error}"[:300])


# A request through the ASGI application, without a socket


class AsgiCaller:
    """Sends requests to an ASGI app on one event loop; each waits for its whole answer."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.token = token
        # The loop the application's lifespan runs on (``application``), as uvicorn serves
        # its requests on the loop that started it: its checkpoints run there.
        self._own_loop = getattr(app.state, LOOP, None) is None
        self.loop = asyncio.new_event_loop() if self._own_loop else getattr(app.state, LOOP)

    def close(self) -> None:
        if self._own_loop:
            self.loop.close()

    def __call__(self, request: tuple[str, str, bytes]) -> int:
        return self.loop.run_until_complete(self._send(*request))

    def cpu_us_per_request(
        self, requests: list[tuple[str, str, bytes]], in_flight: int = 1
    ) -> tuple[float, list[int]]:
        """CPU µs per request for requests sent ``in_flight`` at a time within one task, each
        wave once the previous one's answers have arrived (one at a time: as a client on
        one connection sends them); what the app still does after an answer (its
        provisioning-log entry) is waited for at the end, the log drained as a stopping
        server drains it, and counted. (A task per request
        would start a worker thread each time: the thread pool keeps its threads for the
        task running the loop.)"""

        async def every() -> tuple[float, list[int]]:
            began = time.process_time()
            statuses, running = [], []
            for start in range(0, len(requests), in_flight):
                wave = requests[start : start + in_flight]
                for status, finishing in await asyncio.gather(
                    *(self._answered(*request) for request in wave)
                ):
                    statuses.append(status)
                    running.append(finishing)
            await asyncio.gather(*running)
            await self.app.scim.log.drain()
            return 1e6 * (time.process_time() - began) / len(requests), statuses

        return self.loop.run_until_complete(every())

    async def _send(self, method: str, target: str, body: bytes) -> int:
        """Send a request and wait for the app to finish with it."""
        answered, finished = self._start(method, target, body)
        await finished
        return answered.result()

    async def _answered(
        self, method: str, target: str, body: bytes
    ) -> tuple[int, asyncio.Task[None]]:
        """Send a request and wait for its answer's last byte only, as a client does: what
        the app does after that (its provisioning-log entry) goes on beside the next one."""
        answered, finished = self._start(method, target, body)
        return await answered, finished

    def _start(
        self, method: str, target: str, body: bytes
    ) -> tuple[asyncio.Future[int], asyncio.Task[None]]:
        path, _, query = target.partition("?")
        headers = [
            (b"host", b"bench.example"),
            (b"authorization", f"Bearer {self.token}".encode()),
            (b"content-type", b"application/scim+json"),
            (b"content-length", str(len(body)).encode()),
            (b"user-agent", b"scimgate-bench"),
        ]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 40000),
            "server": ("bench.example", 80),
        }
        answered: asyncio.Future[int] = self.loop.create_future()
        sent_body = False
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.shield(answered)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                answered.set_result(status)

        return answered, self.loop.create_task(self.app(scope, receive, send))


# The measured requests


def create_body(n: int, run: str) -> bytes:
    """The body W1 sends (``bench/wrk/create_users.lua``), about 350 bytes."""
    name = f"{run}-{n}"
    return json.dumps(
        {
            "schemas": [USER_SCHEMA],
            "userName": f"{name}@bench.example.com",
            "externalId": name,
            "name": {"givenName": f"Given{n}", "familyName": f"Family{n}"},
            "displayName": f"Given{n} Family{n}",
            "emails": [{"value": f"{name}@bench.example.com", "type": "work", "primary": True}],
            "title": "Engineer",
            "active": True,
        },
        separators=(",", ":"),
    ).encode()


@contextmanager
def application(database_url: str, idp: str = "generic") -> Iterator[tuple[Any, BenchDirectory]]:
    """scimgate's ASGI app over a new directory (of the IdP profile ``idp``), configured as
    ``scimgate serve`` is for W1."""
    directory = new_directories(database_url, name="breakdown", idp=idp)[0]
    saved = dict(os.environ)
    os.environ.update({"SCIMGATE_DATABASE_URL": database_url, **NO_RATE_LIMITS})
    with open(os.devnull, "w") as discarded:
        try:
            from scimgate.api.app import create_app
            from scimgate.config import Settings
            from scimgate.logging import configure

            # As the benchmark's servers do: request lines are written, to a discarded stream.
            configure(json=True, stream=discarded)
            app = create_app(Settings.from_env())
            try:
                with _lifespan(app) as loop:
                    setattr(app.state, LOOP, loop)
                    yield app, directory
            finally:
                app.state.engine.dispose()
        finally:
            os.environ.clear()
            os.environ.update(saved)


LOOP = "bench_loop"
"""The attribute of ``app.state`` holding the loop its lifespan runs on."""


@contextmanager
def _lifespan(app: Any) -> Iterator[asyncio.AbstractEventLoop]:
    """The application's lifespan, started before the block and ended after it, as uvicorn
    runs it, on the loop yielded: its task waits there for the shutdown while the loop
    serves requests."""
    loop = asyncio.new_event_loop()
    incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outgoing: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    running = loop.create_task(app(scope, incoming.get, outgoing.put))

    async def step(message: str) -> None:
        await incoming.put({"type": f"lifespan.{message}"})
        answer = await outgoing.get()
        if answer["type"] != f"lifespan.{message}.complete":
            raise RuntimeError(f"the application's {message} failed: {answer}")

    try:
        loop.run_until_complete(step("startup"))
        try:
            yield loop
        finally:
            loop.run_until_complete(step("shutdown"))
            loop.run_until_complete(running)
    finally:
        loop.close()


def measure(database_url: str, rounds: int = 5, per_round: int = 200) -> list[Breakdown]:
    with application(database_url) as (app, directory):
        return [
            _create(app, directory, rounds, per_round),
            _lookup(app, directory, rounds, per_round),
        ]


def measure_sync(database_url: str, rounds: int = 5, per_round: int = 200) -> list[SyncRequest]:
    """W5's Entra requests, each kind whole and on its own, in a new directory set to Entra ID.

    The lookups find nobody (what an initial sync's lookups find), the creates make
    the users the manager PATCHes then change, each setting a manager for the first
    time. The member PATCHes add users made for them beforehand, untimed, ten to a
    request and each to one group, as an initial sync adds people to their teams.
    """
    from scimgate.simulator.dialects import DIALECTS
    from scimgate.simulator.population import generate

    entra = DIALECTS["entra"]
    count = rounds * per_round
    timed_count = count + 1  # and the warm-up request (n = 10**9), which takes the last
    population = generate(timed_count * (MEMBERS_EACH + 1), 1)
    people = population.people

    def created(at: int) -> bytes:
        return _json(entra.user_body(people[at], population.domain))

    with application(database_url, idp="entra") as (app, directory):
        base = f"/scim/v2/{directory.directory_id}"
        timed = _timed_sync(app, directory, rounds, per_round)
        found = [
            timed(
                SYNC_LOOKUP,
                lambda n: (
                    "GET",
                    f"{base}/Users?{user_name_query(people[min(n, count)].user_name)}",
                    b"",
                ),
                200,
            ),
            timed(CREATE, lambda n: ("POST", f"{base}/Users", created(min(n, count))), 201),
        ]
        caller = AsgiCaller(app, directory.token)
        try:
            made = [
                ("POST", f"{base}/Users", created(at)) for at in range(timed_count, len(people))
            ]
            for n in range(SYNC_GROUPS):
                group = {"schemas": [GROUP_SCHEMA], "displayName": f"breakdown {n}"}
                made.append(("POST", f"{base}/Groups", _json(group)))
            _, statuses = caller.cpu_us_per_request(made, IN_FLIGHT)
        finally:
            caller.close()
        users = _ids(app, "users", directory.directory_id)
        groups = _ids(app, "groups", directory.directory_id)
        if set(statuses) != {201} or len(users) != len(people):
            failed = f"the users and groups to change were not made: {sorted(set(statuses))}"
            return [*found, SyncRequest(SYNC_MANAGER, None, failed)]

        def manager(n: int) -> tuple[str, str, bytes]:
            at = min(n, count)
            return manager_patch(base, users[at], users[at + 1])

        def members(n: int) -> tuple[str, str, bytes]:
            at = min(n, count)
            first = timed_count + MEMBERS_EACH * at
            joining = users[first : first + MEMBERS_EACH]
            return members_patch(base, groups[at % SYNC_GROUPS], joining)

        return [*found, timed(SYNC_MANAGER, manager, 200), timed(SYNC_MEMBERS, members, 204)]


def _timed_sync(
    app: Any, directory: BenchDirectory, rounds: int, per_round: int
) -> Callable[[str, Callable[[int], tuple[str, str, bytes]], int], SyncRequest]:
    def timed(
        name: str, request: Callable[[int], tuple[str, str, bytes]], expected: int
    ) -> SyncRequest:
        us, error = _whole(app, directory, request, expected, rounds, per_round, IN_FLIGHT)
        return SyncRequest(name, us, error)

    return timed


def manager_patch(base: str, user_id: str, manager_id: str) -> tuple[str, str, bytes]:
    """Entra's PATCH setting a user's manager (one ``Add`` of the extension's attribute)."""
    operation = {"op": "Add", "path": f"{ENTERPRISE_SCHEMA}:manager", "value": manager_id}
    return "PATCH", f"{base}/Users/{user_id}", _patch([operation])


def members_patch(base: str, group_id: str, user_ids: list[str]) -> tuple[str, str, bytes]:
    """Entra's PATCH adding users to a group, one ``Add`` of one member each."""
    added = [
        {"op": "Add", "path": "members", "value": [{"$ref": None, "value": user}]}
        for user in user_ids
    ]
    return "PATCH", f"{base}/Groups/{group_id}", _patch(added)


def user_name_query(user_name: str) -> str:
    return "filter=" + quote(f'userName eq "{user_name}"')


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _patch(operations: list[dict[str, Any]]) -> bytes:
    return _json({"schemas": [PATCH_SCHEMA], "Operations": operations})


def _ids(app: Any, table: str, directory_id: str) -> list[str]:
    """The ids of a directory's users or groups, in creation order (ids are UUIDv7)."""
    from sqlalchemy import text

    query = text(f"SELECT id FROM {table} WHERE directory_id = :d ORDER BY id")
    with app.state.engine.connect() as conn:
        return [row[0] for row in conn.execute(query, {"d": directory_id})]


def _scope(app: Any, directory: BenchDirectory) -> Any:
    from scimgate.service.provisioning.rate_limits import admit
    from scimgate.service.provisioning.scope import Scope

    state = app.state
    found = admit(
        state.credentials,
        state.rate_limiter,
        directory.directory_id,
        f"Bearer {directory.token}",
        "-",
    ).directory
    return Scope(
        engine=state.engine,
        directory=found,
        base_url=f"http://bench.example/scim/v2/{found.id}",
        limits=state.settings.limits,
    )


def _token_stage(app: Any, directory: BenchDirectory, rounds: int, per_round: int) -> Stage:
    """The token check and the rate limit, as every SCIM request takes them."""
    from scimgate.service.provisioning.rate_limits import admit

    state = app.state
    authorization = f"Bearer {directory.token}"
    return stage(
        "token check (rate_limits.admit)",
        lambda n: n,
        lambda _: admit(
            state.credentials,
            state.rate_limiter,
            directory.directory_id,
            authorization,
            "127.0.0.1",
        ),
        rounds,
        per_round,
    )


def _create(app: Any, directory: BenchDirectory, rounds: int, per_round: int) -> Breakdown:
    from scim2_models import Context

    from scimgate.api.responses import resource_response
    from scimgate.scim.creation import read_creation
    from scimgate.service.provisioning import users

    found = Breakdown(CREATE)
    run = f"bd{time.time_ns()}"
    try:
        scope = _scope(app, directory)
    except Exception as error:
        found.whole_error = f"no scope: {type(error).__name__}: {error}"[:300]
        return found

    def parsed(n: int, prefix: str) -> Any:
        body = create_body(n, f"{run}-{prefix}")
        return read_creation(scope.models, "User", body, scope.users_url).document

    service = "service call (users.create_user_document)"
    found.stages = [
        _token_stage(app, directory, rounds, per_round),
        stage(
            "body to stored document (creation.read_creation)",
            lambda n: create_body(n, f"{run}-parse"),
            lambda body: read_creation(scope.models, "User", body, scope.users_url),
            rounds,
            per_round,
        ),
        stage(
            service,
            lambda n: parsed(n, "svc"),
            lambda doc: users.create_user_document(scope, doc),
            rounds,
            per_round,
        ),
        stage(
            "render (responses.resource_response)",
            lambda n: users.create_user_document(scope, parsed(n, "render")),
            lambda created: resource_response(
                created, Context.RESOURCE_CREATION_RESPONSE, status=201
            ),
            rounds,
            per_round,
        ),
    ]
    logged = _log_stage(
        scope, "POST", "/Users", lambda n: create_body(n, f"{run}-log"), 201, rounds, per_round
    )
    found.stages.append(logged)
    path = f"/scim/v2/{directory.directory_id}/Users"
    found.whole_us, found.whole_error = _whole(
        app,
        directory,
        lambda n: ("POST", path, create_body(n, f"{run}-asgi")),
        201,
        rounds,
        per_round,
    )
    found.together_us, _ = _whole(
        app,
        directory,
        lambda n: ("POST", path, create_body(n, f"{run}-together")),
        201,
        rounds,
        per_round,
        IN_FLIGHT,
    )
    return found


def _lookup(app: Any, directory: BenchDirectory, rounds: int, per_round: int) -> Breakdown:
    from scim2_models import Context
    from starlette.datastructures import QueryParams

    from scimgate.api.responses import render
    from scimgate.scim.creation import read_creation
    from scimgate.scim.key_lookups import key_lookup
    from scimgate.service.provisioning import key_lookups, listing, users

    found = Breakdown(LOOKUP)
    run = f"bl{time.time_ns()}"
    try:
        scope = _scope(app, directory)
        # Distinct users for every timed lookup: each first read of a user is what an IdP sends.
        population = 4 * rounds * per_round
        for n in range(population):
            body = create_body(n, run)
            doc = read_creation(scope.models, "User", body, scope.users_url).document
            users.create_user_document(scope, doc)
    except Exception as error:
        found.whole_error = f"no users to look up: {type(error).__name__}: {error}"[:300]
        return found

    def query(n: int) -> str:
        return "filter=" + quote(f'userName eq "{run}-{n}@bench.example.com"', safe="")

    def lookup(n: int) -> Any:
        return key_lookup(QueryParams(query(n)), "User", scope.models.user, scope.limits)

    offset = {"service": 0, "render": rounds * per_round, "asgi": 2 * rounds * per_round}
    found.stages = [
        _token_stage(app, directory, rounds, per_round),
        stage(
            "query recognised as a key lookup (key_lookups.key_lookup)",
            lambda n: QueryParams(query(n)),
            lambda params: key_lookup(params, "User", scope.models.user, scope.limits),
            rounds,
            per_round,
        ),
        stage(
            "service call (key_lookups.lookup_page)",
            lambda n: lookup(offset["service"] + n),
            lambda parsed: key_lookups.lookup_page(scope, listing.USER_KIND, parsed),
            rounds,
            per_round,
        ),
        stage(
            "render (responses.render)",
            lambda n: (
                key_lookups.lookup_page(
                    scope, listing.USER_KIND, k := lookup(offset["render"] + n)
                ),
                k,
            ),
            lambda pair: render(pair[0], Context.SEARCH_RESPONSE, parameters=pair[1].response),
            rounds,
            per_round,
        ),
    ]
    found.stages.append(
        _log_stage(scope, "GET", "/Users", lambda n: b"", 200, rounds, per_round, query=query)
    )
    path = f"/scim/v2/{directory.directory_id}/Users"
    found.whole_us, found.whole_error = _whole(
        app,
        directory,
        lambda n: ("GET", f"{path}?{query(offset['asgi'] + n)}", b""),
        200,
        rounds,
        per_round,
    )
    return found


def _log_stage(
    scope: Any,
    method: str,
    endpoint: str,
    body: Callable[[int], bytes],
    status: int,
    rounds: int,
    per_round: int,
    query: Callable[[int], str] = lambda n: "",
) -> Stage:
    """The provisioning log's record of one request, which its writer thread writes after the
    answer, alone in its batch as it is when requests come one at a time."""
    from datetime import UTC, datetime

    from scimgate.config import Settings
    from scimgate.service.operations.provisioning_log import CapturedRequest, record

    policy = Settings.from_env().log
    path = f"/scim/v2/{scope.directory_id}{endpoint}"

    def captured(n: int) -> Any:
        return CapturedRequest(
            directory=scope.directory,
            request_id=f"breakdown-{n}",
            received_at=datetime.now(UTC),
            method=method,
            path=path,
            query=query(n),
            status=status,
            latency_ms=3,
            user_agent="scimgate-bench",
            request_body=body(n) or None,
            response_body=b'{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],'
            b'"totalResults":0,"Resources":[]}',
        )

    return stage(
        "provisioning-log record, after the answer (provisioning_log.record, batch of 1)",
        captured,
        lambda each: record(scope.engine, [each], policy),
        rounds,
        per_round,
    )


def _whole(
    app: Any,
    directory: BenchDirectory,
    request: Callable[[int], tuple[str, str, bytes]],
    expected: int,
    rounds: int,
    per_round: int,
    in_flight: int = 1,
) -> tuple[float | None, str]:
    caller = AsgiCaller(app, directory.token)
    try:
        status = caller(request(10**9))  # the first request warms the app up, untimed
        if status != expected:
            return None, f"the app answered {status}, not {expected}"
        statuses: list[int] = []
        results = []
        for round_number in range(rounds):
            requests = [request(round_number * per_round + n) for n in range(per_round)]
            us_per_request, answered = caller.cpu_us_per_request(requests, in_flight)
            results.append(us_per_request)
            statuses += answered
        us = statistics.median(results)
        wrong = [status for status in statuses if status != expected]
        if wrong:
            return None, f"{len(wrong)} answers were not {expected}: {sorted(set(wrong))}"
        return round(us, 1), ""
    except Exception as error:
        return None, f"{type(error).__name__}: {error}"[:300]
    finally:
        caller.close()


# Printing


def lines(found: list[dict[str, Any]]) -> list[str]:
    """A Markdown table per request kind, from ``Breakdown.as_json()``."""
    out: list[str] = []
    for each in found:
        out += [f"CPU per request stage, {each['request']} (µs, median of rounds, in process):"]
        out += ["", "| stage | µs |", "|---|---:|"]
        for s in each["stages"]:
            shown = _us(s["us"]) if s["us"] is not None else f"not measured: {s['error']}"
            name = f"{s['name']}, inside the {s['within']}" if s["within"] else s["name"]
            out.append(f"| {name} | {shown} |")
        out.append(f"| sum of stages | {_us(each['sum_of_stages_us'])} |")
        whole = each["whole_request_us"]
        shown = _us(whole) if whole is not None else each["whole_request_error"] or "-"
        out.append(f"| whole request through the ASGI app, in process | {shown} |")
        out.append(f"| edge overhead (whole - sum of stages) | {_us(each['edge_overhead_us'])} |")
        together = each.get("whole_request_in_flight_us")
        if together is not None:
            out.append(
                f"| whole request, {IN_FLIGHT} in flight (writes committed together) "
                f"| {_us(together)} |"
            )
        out.append("")
    return out


def sync_lines(found: list[dict[str, Any]]) -> list[str]:
    """A Markdown table of W5's Entra requests, from ``SyncRequest``s as dicts."""
    out = [
        f"CPU per request of W5's Entra sync (µs, median of rounds, in process, {IN_FLIGHT} in "
        "flight, a directory set to Entra ID):",
        "",
        "| request | µs |",
        "|---|---:|",
    ]
    for each in found:
        shown = _us(each["us"]) if each["us"] is not None else f"not measured: {each['error']}"
        out.append(f"| {each['request']} | {shown} |")
    return [*out, ""]


def _us(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=200)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        found = measure(
            f"sqlite:///{Path(folder) / 'breakdown.db'}", options.rounds, options.per_round
        )
        sync = measure_sync(
            f"sqlite:///{Path(folder) / 'sync.db'}", options.rounds, options.per_round
        )
    print("\n".join(lines([each.as_json() for each in found])))
    print("\n".join(sync_lines([asdict(each) for each in sync])))


if __name__ == "__main__":
    main()
