"""Refused credentials are paced per client address and counted, not written, one by one.

Every edge (the management API, SCIM tokens, the portal's sign-in, setup links
and setup pages, the metrics scrape) draws a refusal from its client address's
bucket: beyond the burst the address is answered 429 with ``Retry-After``,
and the audit log keeps one row per address, action and reason a minute,
whose count adds up to the requests refused. Valid credentials, from the same
address or another, are never refused for it. Loopback addresses 127.0.0.N
stand for distinct clients.
"""

import secrets
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine, select, update
from typer.testing import CliRunner

from conftest import ADMIN_TOKEN, LiveServer, new_directory, serving
from event_support import private_database
from scimgate.cli.main import app as cli
from scimgate.config import Bucket, EventSettings, LogPolicy, RateLimits
from scimgate.scim.errors import TooManyRequests
from scimgate.service.administration import audit
from scimgate.service.operations.maintenance import run_upkeep
from scimgate.service.provisioning.rate_limits import RateLimiter
from scimgate.store.ids import utcnow
from scimgate.store.tables.logs import audit_log
from scimgate.store.tables.tenancy import rate_buckets
from scimgate.store.transactions import reading

BURST = 20
RATE = "0.001"
"""One refusal refills in 1,000 s: within a test, the burst is all an address gets."""

FLOOD = 500


@dataclass(frozen=True)
class Server:
    url: str
    engine: Engine


@pytest.fixture(scope="module")
def paced(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server on a database of its own, with the anonymous limit on."""
    tmp_path = tmp_path_factory.mktemp("paced")
    limits = {"SCIMGATE_ANONYMOUS_RATE": RATE, "SCIMGATE_ANONYMOUS_BURST": str(BURST)}
    with (
        private_database(database_url, tmp_path) as (url, engine),
        serving(url, tmp_path / "server.log", **limits) as served,
    ):
        yield Server(served, engine)


@contextmanager
def client_from(address: str, server: Server, **headers: str) -> Iterator[httpx.Client]:
    """An HTTP client whose connections come from a loopback address of its own."""
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(
        base_url=server.url, transport=transport, headers=headers, timeout=60
    ) as client:
        yield client


def audit_rows(engine: Engine, client: str) -> list[tuple[str, str, int]]:
    """The (action, detail, count) of every audit row of a client address."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(audit_log.c.action, audit_log.c.detail, audit_log.c.count).where(
                audit_log.c.client == client
            )
        )
        return [(row.action, row.detail, row.count) for row in rows]


def test_a_flood_of_anonymous_requests_is_paced_and_counted_in_few_rows(paced: Server) -> None:
    with client_from("127.0.0.1", paced) as anonymous:
        answers = [
            anonymous.post("/api/v1/organizations", json={"name": "x"}) for _ in range(FLOOD)
        ]
    statuses = Counter(answer.status_code for answer in answers)
    assert set(statuses) == {401, 429}, statuses
    assert BURST <= statuses[401] < BURST + 5, statuses
    for answer in answers:
        if answer.status_code == 429:
            assert int(answer.headers["Retry-After"]) >= 1
            assert answer.json()["status"] == "429"
            assert "this address" in answer.json()["detail"]
    assert answers[-1].status_code == 429

    rows = audit_rows(paced.engine, "127.0.0.1")
    assert sum(count for _, _, count in rows) == FLOOD, rows
    # One row per reason (401, 429) and minute: two, or four across a minute's turn.
    assert len(rows) <= 4, rows
    assert {action for action, _, _ in rows} == {"POST /api/v1/organizations"}

    # Valid credentials never draw on the bucket: from this address or another.
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with (
        client_from("127.0.0.1", paced, **admin) as same,
        client_from("127.0.0.2", paced, **admin) as other,
    ):
        assert same.post("/api/v1/organizations", json={"name": "same"}).status_code == 201
        assert other.post("/api/v1/organizations", json={"name": "other"}).status_code == 201
        # The management API shows the coalesced rows with their address and count.
        listed = same.get("/api/v1/audit", params={"actor": "unauthenticated"}).json()["data"]
    mine = [entry for entry in listed if entry["client"] == "127.0.0.1"]
    assert sum(entry["count"] for entry in mine) == FLOOD, mine
    # Another address has a bucket of its own.
    with client_from("127.0.0.2", paced) as stranger:
        assert stranger.get("/api/v1/organizations").status_code == 401


Refuse = Callable[[httpx.Client], httpx.Response]


@dataclass(frozen=True)
class Edge:
    refuse: Refuse
    status: int
    """How the edge refuses while the address is within its burst."""

    audited: str | None
    """The audited action of its refusals, when they are audited."""


def _scim(client: httpx.Client) -> httpx.Response:
    return client.get(
        f"/scim/v2/{uuid.uuid4()}/Users", headers={"Authorization": "Bearer not-a-token"}
    )


def _management(client: httpx.Client) -> httpx.Response:
    return client.get("/api/v1/keys", headers={"Authorization": "Bearer scimgate_admin_wrong"})


def _sign_in(client: httpx.Client) -> httpx.Response:
    if "scimgate_sign_in" not in client.cookies:
        client.get("/admin/sign-in")
    form = {"key": "scimgate_admin_wrong", "csrf_token": client.cookies["scimgate_sign_in"]}
    return client.post("/admin/sign-in", data=form)


def _setup_link(client: httpx.Client) -> httpx.Response:
    return client.get(f"/setup/{secrets.token_urlsafe(24)}")


def _setup_page(client: httpx.Client) -> httpx.Response:
    return client.get("/setup/")


def _metrics(client: httpx.Client) -> httpx.Response:
    return client.get("/metrics", headers={"Authorization": "Bearer wrong"})


EDGES = {
    "scim token": Edge(_scim, 401, None),
    "management API": Edge(_management, 401, "GET /api/v1/keys"),
    "portal sign-in": Edge(_sign_in, 401, "portal sign-in"),
    "setup link": Edge(_setup_link, 404, "portal setup-link open"),
    "setup page": Edge(_setup_page, 401, None),
    "metrics": Edge(_metrics, 401, None),
}


@pytest.mark.parametrize("name", list(EDGES))
def test_every_edge_paces_refused_credentials_by_address(paced: Server, name: str) -> None:
    edge = EDGES[name]
    address = f"127.0.0.{10 + list(EDGES).index(name)}"
    tries = BURST + 10
    with client_from(address, paced) as client:
        answers = [edge.refuse(client) for _ in range(tries)]
    statuses = [answer.status_code for answer in answers]
    assert statuses[:BURST] == [edge.status] * BURST, statuses
    assert statuses[-1] == 429, statuses
    assert set(statuses) == {edge.status, 429}, statuses
    assert all(int(a.headers["Retry-After"]) >= 1 for a in answers if a.status_code == 429)
    rows = audit_rows(paced.engine, address)
    if edge.audited is None:
        assert rows == []
    else:
        assert {action for action, _, _ in rows} == {edge.audited}
        assert sum(count for _, _, count in rows) == tries
        assert len(rows) <= 4, rows


def test_valid_scim_tokens_are_not_paced_by_refusals(paced: Server) -> None:
    directory = new_directory(LiveServer(paced.url, paced.engine))
    with client_from("127.0.0.30", paced) as client:
        for _ in range(BURST + 1):
            _scim(client)
        assert _scim(client).status_code == 429
        good = {"Authorization": f"Bearer {directory.token}"}
        assert (
            client.get(f"/scim/v2/{directory.directory_id}/Users", headers=good).status_code == 200
        )


def test_the_anonymous_limit_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert RateLimits().anonymous == Bucket(rate=1.0, burst=30)
    monkeypatch.setenv("SCIMGATE_ANONYMOUS_RATE", "2")
    monkeypatch.setenv("SCIMGATE_ANONYMOUS_BURST", "7")
    assert RateLimits.from_env().anonymous == Bucket(rate=2.0, burst=7)
    monkeypatch.setenv("SCIMGATE_ANONYMOUS_RATE", "0")
    assert RateLimits.from_env().anonymous is None


def test_refusals_coalesce_per_address_action_and_reason_within_a_minute(
    engine: Engine, database_url: str
) -> None:
    client = f"192.0.2.{secrets.randbelow(250)}-{secrets.token_hex(3)}"
    for _ in range(3):
        audit.record_refusal(engine, audit.Refusal(client, "GET /api/v1/keys", "401: not valid"))
    audit.record_refusal(engine, audit.Refusal(client, "GET /api/v1/keys", "401: revoked"))
    audit.record_refusal(engine, audit.Refusal(client, "POST /api/v1/keys", "401: not valid"))
    assert sorted(audit_rows(engine, client)) == [
        ("GET /api/v1/keys", "401: not valid", 3),
        ("GET /api/v1/keys", "401: revoked", 1),
        ("POST /api/v1/keys", "401: not valid", 1),
    ]

    # A row counts for a minute; the next refusal after it starts a row of its own.
    with engine.begin() as conn:
        conn.execute(
            update(audit_log)
            .where(audit_log.c.client == client)
            .values(at=utcnow() - audit.REFUSAL_WINDOW - timedelta(seconds=1))
        )
    audit.record_refusal(engine, audit.Refusal(client, "GET /api/v1/keys", "401: not valid"))
    counts = [
        count
        for action, detail, count in audit_rows(engine, client)
        if "not valid" in detail and action.startswith("GET")
    ]
    assert sorted(counts) == [1, 3]

    shown = CliRunner().invoke(
        cli, ["audit", "list", "--actor", "unauthenticated", "--database-url", database_url]
    )
    assert shown.exit_code == 0, shown.output
    assert "(3 times)" in shown.output


def test_refilled_address_buckets_are_purged_by_the_upkeep(engine: Engine) -> None:
    """Every address that ever had a credential refused gets a bucket; on PostgreSQL the
    worker's upkeep removes those that have refilled, which admit as a missing one would."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite keeps its buckets in the serving process's memory")
    quick = RateLimiter(engine, RateLimits(None, None, anonymous=Bucket(rate=1000.0, burst=1)))
    slow = RateLimiter(engine, RateLimits(None, None, anonymous=Bucket(rate=0.001, burst=1)))
    refilled, running = f"198.51.100.{secrets.randbelow(250)}", f"2001:db8::{uuid.uuid4().hex[:4]}"
    quick.check_refused(refilled)
    slow.check_refused(running)
    with pytest.raises(TooManyRequests):
        slow.check_refused(running)

    def buckets() -> set[str]:
        with reading(engine) as conn:
            return set(conn.execute(select(rate_buckets.c.bucket)).scalars())

    assert {f"address:{refilled}", f"address:{running}"} <= buckets()
    time.sleep(0.05)  # the quick bucket's one request refills in a millisecond
    assert run_upkeep(engine, EventSettings(), LogPolicy()).rate_buckets_purged >= 1
    left = buckets()
    assert f"address:{refilled}" not in left
    assert f"address:{running}" in left, "a bucket still running ahead is kept"
    with pytest.raises(TooManyRequests):
        slow.check_refused(running)
    quick.check_refused(refilled)
