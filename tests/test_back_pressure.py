"""Back-pressure: rate limits answered with 429 and ``Retry-After``, busy databases with 503.

The main test bursts at twice a directory's limit and checks that the server
answers only 2xx and 429 (never a timeout, never a 5xx), and that a client
which waits as ``Retry-After`` says completes the whole sync. On PostgreSQL,
two server processes draw on the same buckets.
"""

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from conftest import METRICS_AUTH, LiveServer, new_directory, serving
from scim_payloads import ERROR_SCHEMA, patch, user
from scim_payloads import group as group_payload
from scimgate.config import Bucket, PoolSettings, RateLimits
from scimgate.scim.errors import TooManyRequests
from scimgate.service.provisioning.rate_limits import RateLimiter
from scimgate.store.engine import open_engine
from scimgate.store.errors import Busy
from scimgate.store.transactions import reading

RATE = 20
"""The directory's limit in these tests: requests a second."""

SYNCED_USERS = 30
"""Users in the burst test's sync: 3 requests each (a lookup, a create, an add to the group).
Offered at twice ``RATE``, the first ``2 * RATE`` empty the full bucket in a second and the
rest run into the limit, so that the sync takes about ``(3 * SYNCED_USERS - RATE) / RATE``
seconds."""


@dataclass
class Pacer:
    """Hands out send times ``interval`` apart, to all threads together: a steady offered load."""

    interval: float
    _next: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for_slot(self) -> None:
        with self._lock:
            slot = max(self._next, time.monotonic())
            self._next = slot + self.interval
        time.sleep(max(0.0, slot - time.monotonic()))


@dataclass
class PatientClient:
    """An IdP that sends at a paced rate and, refused with 429, waits as ``Retry-After`` says."""

    http: httpx.Client
    pacer: Pacer
    statuses: Counter[int] = field(default_factory=Counter)
    refusals: list[httpx.Response] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        while True:
            self.pacer.wait_for_slot()
            response = self.http.request(method, path, **kwargs)
            with self._lock:
                self.statuses[response.status_code] += 1
            if response.status_code != 429:
                return response
            with self._lock:
                self.refusals.append(response)
            time.sleep(int(response.headers["Retry-After"]))


def _sync_one(client: PatientClient, user_name: str) -> str:
    """What an IdP does per user in an initial sync: look the user up, then create it."""
    found = client.send("GET", "/Users", params={"filter": f'userName eq "{user_name}"'})
    assert found.status_code == 200, found.text
    assert found.json()["totalResults"] == 0
    created = client.send("POST", "/Users", json=user(user_name))
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


@pytest.fixture(scope="module")
def limited_server(
    database_url: str, engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A server whose directories may send ``RATE`` requests a second, ``RATE`` at once."""
    log = tmp_path_factory.mktemp("limited") / "server.log"
    limits = {"SCIMGATE_DIRECTORY_RATE": str(RATE), "SCIMGATE_DIRECTORY_BURST": str(RATE)}
    with serving(database_url, log, **limits) as url:
        yield LiveServer(url, engine)


def test_a_burst_at_twice_the_limit_gets_only_2xx_and_429_and_a_patient_client_finishes(
    limited_server: LiveServer,
) -> None:
    directory = new_directory(limited_server)
    client = PatientClient(directory.http, Pacer(interval=1 / (2 * RATE)))
    names = [f"burst.user{n}@example.com" for n in range(SYNCED_USERS)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(lambda name: _sync_one(client, name), names))
    group = client.send("POST", "/Groups", json=group_payload("Everyone"))
    assert group.status_code == 201, group.text
    with ThreadPoolExecutor(max_workers=8) as pool:
        added = list(
            pool.map(
                lambda user_id: client.send(
                    "PATCH",
                    f"/Groups/{group.json()['id']}",
                    json=patch({"op": "add", "path": "members", "value": [{"value": user_id}]}),
                ),
                ids,
            )
        )
    assert {response.status_code for response in added} <= {200, 204}

    assert set(client.statuses) <= {200, 201, 204, 429}, client.statuses
    assert client.statuses[429] > 0, "the burst never reached the limit: the test proves nothing"
    for refusal in client.refusals:
        assert int(refusal.headers["Retry-After"]) >= 1
        body = refusal.json()
        assert body["schemas"] == [ERROR_SCHEMA]
        assert body["status"] == "429"
        assert "Retry-After" in body["detail"]

    metrics = httpx.get(f"{limited_server.url}/metrics", headers=METRICS_AUTH).text
    counted = next(
        float(line.split()[1])
        for line in metrics.splitlines()
        if line.startswith("scimgate_rate_limited_total ")
    )
    assert counted >= len(client.refusals)

    everyone = client.send("GET", f"/Groups/{group.json()['id']}").json()
    assert sorted(member["value"] for member in everyone["members"]) == sorted(ids)
    listed = client.send("GET", "/Users", params={"count": 100}).json()
    assert sorted(each["userName"] for each in listed["Resources"]) == sorted(names)


def test_directories_have_their_own_buckets(limited_server: LiveServer) -> None:
    noisy, quiet = new_directory(limited_server), new_directory(limited_server)
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = Counter(
            pool.map(lambda _: noisy.http.get("/Users").status_code, range(4 * RATE))
        )
    assert statuses[429] > 0
    assert quiet.http.get("/Users").status_code == 200


def test_a_token_has_its_own_limit(database_url: str, engine: Engine, tmp_path: Path) -> None:
    limits = {"SCIMGATE_TOKEN_RATE": "1", "SCIMGATE_TOKEN_BURST": "5"}
    with serving(database_url, tmp_path / "server.log", **limits) as url:
        directory = new_directory(LiveServer(url, engine))
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=5) as pool:
            answers = list(pool.map(lambda _: directory.http.get("/Users"), range(20)))
        elapsed = time.monotonic() - started
    refused = [answer for answer in answers if answer.status_code == 429]
    admitted = [answer for answer in answers if answer.status_code == 200]
    # Every answer is one or the other: a 503 is neither admitted nor the limit's refusal.
    assert len(admitted) + len(refused) == len(answers), [each.status_code for each in answers]
    # The burst, plus one a second refilled meanwhile.
    assert 5 <= len(admitted) <= 5 + int(elapsed) + 1, (len(admitted), elapsed)
    assert "this token" in refused[0].json()["detail"]


def test_limits_are_shared_by_server_processes_on_postgresql(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    """Two processes, one bucket: together they admit one burst, not one each."""
    if engine.dialect.name != "postgresql":
        pytest.skip("one process serves SQLite; its buckets live in that process")
    limits = {"SCIMGATE_DIRECTORY_RATE": "1", "SCIMGATE_DIRECTORY_BURST": "10"}
    with (
        serving(database_url, tmp_path / "one.log", **limits) as one,
        serving(database_url, tmp_path / "two.log", **limits) as two,
    ):
        directory = new_directory(LiveServer(one, engine))
        urls = [one, two] * 15
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=6) as pool:
            statuses = list(pool.map(_counting_get(directory.base_url, directory.token), urls))
        elapsed = time.monotonic() - started
    admitted = statuses.count(200)
    assert set(statuses) == {200, 429}
    # One shared bucket admits its burst plus what it refilled meanwhile; one bucket per
    # process would admit a burst on each.
    assert 10 <= admitted <= 10 + int(elapsed) + 1, (admitted, elapsed)


def test_shared_buckets_are_unlogged_so_a_request_waits_for_no_disk_flush(
    engine: Engine,
) -> None:
    """Every SCIM request updates its buckets; that write need not survive a crash of the
    database (the buckets then start full), so it writes no WAL and its commit waits for
    no flush."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite keeps its buckets in the serving process's memory")
    with reading(engine) as conn:
        persistence = conn.execute(
            text("SELECT relpersistence FROM pg_class WHERE relname = 'rate_buckets'")
        ).scalar_one()
    assert persistence == "u"


def _counting_get(base_url: str, token: str) -> Callable[[str], int]:
    path = base_url.split("/scim/v2/", 1)[1]

    def get(server_url: str) -> int:
        response = httpx.get(
            f"{server_url}/scim/v2/{path}/Users",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        return response.status_code

    return get


def test_the_in_process_limiter_admits_a_burst_then_says_how_long_to_wait(
    tmp_path: Path,
) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'limits.db'}")
    limiter = RateLimiter(engine, RateLimits(per_directory=Bucket(rate=0.5, burst=3)))
    for _ in range(3):
        limiter.check("directory-a", "token-a")
    with pytest.raises(TooManyRequests) as refused:
        limiter.check("directory-a", "token-a")
    assert refused.value.retry_after == 2
    limiter.check("directory-b", "token-b")


def test_a_request_that_finds_every_connection_busy_gets_503_and_retry_after(
    database_url: str,
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite opens its file as needed: it has no pool to exhaust")
    engine = open_engine(database_url, PoolSettings(size=1, overflow=0, timeout=0.2))
    try:
        with engine.connect(), pytest.raises(Busy) as busy, reading(engine):
            pass
        assert busy.value.retry_after == 1
        assert "nothing was changed" in busy.value.detail
    finally:
        engine.dispose()
