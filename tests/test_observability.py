"""Observability: request ids, readiness, Prometheus metrics and structured logs."""

import io
import json
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
import structlog
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from conftest import (
    ADMIN_TOKEN,
    METRICS_AUTH,
    METRICS_TOKEN,
    POSTGRES_DSN,
    DirectoryClient,
    LiveServer,
    new_directory,
    serving,
)
from event_support import admin_client, last_seq, private_server
from scim_payloads import user
from scimgate.api.app import create_app
from scimgate.config import Settings
from scimgate.service.event_stream.delivery import fan_out
from scimgate.service.operations.health import HEARTBEAT_POSITION, heartbeat
from scimgate.store import progress
from scimgate.store.transactions import writing
from webhook_support import Receiver


def _metrics(url: str) -> dict[str, list[Sample]]:
    """The samples of each metric family the server exposes, by family name."""
    answer = httpx.get(f"{url}/metrics", headers=METRICS_AUTH, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        family.name: list(family.samples) for family in text_string_to_metric_families(answer.text)
    }


def _value(samples: list[Sample], name: str, **labels: str) -> float | None:
    """The value of the sample with exactly these labels, or None when there is none."""
    for sample in samples:
        if sample.name == name and sample.labels == labels:
            return float(sample.value)
    return None


def _gauge(url: str, name: str) -> float:
    value = _value(_metrics(url)[name], name)
    assert value is not None, name
    return value


# Request ids


def test_a_well_formed_request_id_is_echoed(live_server: LiveServer) -> None:
    answer = httpx.get(f"{live_server.url}/healthz", headers={"X-Request-Id": "lb-7f3a:42"})
    assert answer.headers["X-Request-Id"] == "lb-7f3a:42"


@pytest.mark.parametrize(
    "given", [None, "has spaces in it", "x" * 65, "semi;colon", "<script>", "caf\u00e9"]
)
def test_a_missing_or_malformed_request_id_is_replaced_by_a_new_one(
    live_server: LiveServer, given: str | None
) -> None:
    headers: dict[bytes, bytes] = {} if given is None else {b"X-Request-Id": given.encode()}
    first = httpx.get(f"{live_server.url}/healthz", headers=headers)
    second = httpx.get(f"{live_server.url}/healthz", headers=headers)
    generated = first.headers["X-Request-Id"]
    assert uuid.UUID(generated).version == 7
    assert second.headers["X-Request-Id"] != generated


def test_an_error_detail_ends_with_the_request_id(scim: DirectoryClient) -> None:
    chosen = scim.http.get(f"/Users/{uuid.uuid4()}", headers={"X-Request-Id": "support-case-1"})
    assert chosen.status_code == 404
    assert chosen.json()["detail"].endswith(" (request id support-case-1)")
    assert chosen.json()["detail"].startswith("No ")

    generated = scim.http.get("/Users", params={"filter": "userName eq"})
    assert generated.status_code == 400
    request_id = generated.headers["X-Request-Id"]
    assert generated.json()["detail"].endswith(f" (request id {request_id})")


def test_every_error_of_a_request_names_its_own_id(live_server: LiveServer) -> None:
    unauthenticated = httpx.get(f"{live_server.url}/api/v1/events")
    no_route = httpx.get(f"{live_server.url}/no/such/route")
    for answer in (unauthenticated, no_route):
        request_id = answer.headers["X-Request-Id"]
        assert answer.json()["detail"].endswith(f" (request id {request_id})")
    assert unauthenticated.headers["X-Request-Id"] != no_route.headers["X-Request-Id"]


# Readiness


def test_ready_when_a_worker_heartbeat_is_fresh(live_server: LiveServer) -> None:
    heartbeat(live_server.engine)
    answer = httpx.get(f"{live_server.url}/readyz")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "worker": "ok"},
    }


def test_not_ready_without_a_worker_or_with_old_migrations(
    database_url: str, tmp_path: Path
) -> None:
    with private_server(database_url, tmp_path) as server:
        never = httpx.get(f"{server.url}/readyz")
        assert never.status_code == 503
        assert never.json()["status"] == "not ready"
        checks = never.json()["checks"]
        assert checks["database"] == checks["migrations"] == "ok"
        assert "heartbeat" in checks["worker"]

        with writing(server.engine) as conn:
            progress.advance(conn, HEARTBEAT_POSITION, int(time.time()) - 120)
        stale = httpx.get(f"{server.url}/readyz")
        assert stale.status_code == 503
        assert "heartbeat" in stale.json()["checks"]["worker"]

        heartbeat(server.engine)
        assert httpx.get(f"{server.url}/readyz").status_code == 200

        with writing(server.engine) as conn:
            head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
            conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
        behind = httpx.get(f"{server.url}/readyz")
        with writing(server.engine) as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
        assert behind.status_code == 503
        assert behind.json()["checks"]["worker"] == "ok"
        assert behind.json()["checks"]["migrations"] == f"database at 0001, expected {head}"
        assert httpx.get(f"{server.url}/readyz").status_code == 200


def test_not_ready_when_the_database_is_gone(postgres_url: str, tmp_path: Path) -> None:
    """On PostgreSQL only: an SQLite file that is gone comes back, empty, on the next connection."""
    with private_server(postgres_url, tmp_path) as server:
        heartbeat(server.engine)
        scim = new_directory(server)
        server.engine.dispose()
        with psycopg.connect(f"{POSTGRES_DSN} dbname=postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{server.engine.url.database}" WITH (FORCE)')
        answer = httpx.get(f"{server.url}/readyz")
        assert answer.status_code == 503
        assert answer.json()["checks"]["database"].startswith("unreachable")
        failed = scim.http.get("/Users", headers={"X-Request-Id": "db-down"})
        assert failed.status_code == 503
        assert failed.headers["Retry-After"] == "1"
        assert failed.json()["detail"].endswith(" (request id db-down)")


# Metrics


def test_scim_requests_are_counted_by_directory_profile_method_and_status(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    labelled = {"SCIMGATE_METRICS_DIRECTORY_LABELS": "1"}
    with serving(database_url, tmp_path / "server.log", **labelled) as url:
        scim = new_directory(LiveServer(url, engine))
        assert scim.http.post("/Users", json=user("ann")).status_code == 201
        assert scim.http.post("/Users", json=user("bob")).status_code == 201
        assert scim.http.get(f"/Users/{uuid.uuid4()}").status_code == 404
        stranger = str(uuid.uuid4())
        assert httpx.get(f"{url}/scim/v2/{stranger}/Users").status_code == 401
        found = _metrics(url)

    requests = found["scimgate_scim_requests"]
    name = "scimgate_scim_requests_total"
    mine = {"directory": scim.directory_id, "idp": "generic"}
    assert _value(requests, name, **mine, method="POST", status="201") == 2
    assert _value(requests, name, **mine, method="GET", status="404") == 1
    assert all(sample.labels.get("directory") != stranger for sample in requests)
    unknown = _value(requests, name, directory="unknown", idp="unknown", method="GET", status="401")
    assert unknown is not None and unknown >= 1

    durations = found["scimgate_scim_request_duration_seconds"]
    count = _value(durations, "scimgate_scim_request_duration_seconds_count", method="POST")
    assert count is not None and count >= 2
    assert any(
        sample.name.endswith("_bucket") and sample.labels.get("method") == "POST"
        for sample in durations
    )
    assert _value(found["scimgate_rate_limited"], "scimgate_rate_limited_total") == 0
    assert "scimgate_webhook_backlog" in found
    assert "scimgate_events_held" in found


def test_by_default_metrics_name_no_directory(
    live_server: LiveServer, scim: DirectoryClient
) -> None:
    """Counts are aggregated over directories: a scrape reveals no directory's existence."""
    assert scim.http.post("/Users", json=user("ann")).status_code == 201
    assert scim.http.get("/Users").status_code == 200
    answer = httpx.get(f"{live_server.url}/metrics", headers=METRICS_AUTH)
    assert answer.status_code == 200
    assert scim.directory_id not in answer.text
    assert "directory=" not in answer.text
    requests = _metrics(live_server.url)["scimgate_scim_requests"]
    name = "scimgate_scim_requests_total"
    posted = _value(requests, name, idp="generic", method="POST", status="201")
    assert posted is not None and posted >= 1


def test_metrics_show_no_token(live_server: LiveServer, scim: DirectoryClient) -> None:
    assert scim.http.get("/Users").status_code == 200
    answer = httpx.get(f"{live_server.url}/metrics", headers=METRICS_AUTH)
    assert answer.status_code == 200
    assert scim.token not in answer.text
    assert ADMIN_TOKEN not in answer.text
    assert METRICS_TOKEN not in answer.text
    assert "Bearer" not in answer.text


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {METRICS_TOKEN}", f"Bearer {ADMIN_TOKEN}", "Bearer"],
    # Named, not shown: the tokens are random, and every test worker must collect the same ids.
    ids=["none", "wrong", "basic-scheme", "admin-token", "empty-bearer"],
)
def test_a_scrape_without_the_metrics_token_is_refused(
    live_server: LiveServer, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    answer = httpx.get(f"{live_server.url}/metrics", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert "scimgate_" not in answer.text


def test_the_outbox_gauges_follow_the_database(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    with private_server(database_url, tmp_path) as server, admin_client(server) as admin:
        registered = admin.post("/webhooks", json={"url": receiver.url()})
        assert registered.status_code == 201, registered.text
        scim = new_directory(server)
        for name in ("ann", "bob"):
            assert scim.http.post("/Users", json=user(name)).status_code == 201
        newest = last_seq(server.engine)
        assert newest > 0
        assert _gauge(server.url, "scimgate_events_newest_sequence") == newest
        assert _gauge(server.url, "scimgate_webhook_fanout_lag_events") == newest
        assert _gauge(server.url, "scimgate_webhook_backlog") == 0

        fan_out(server.engine)
        deliveries = admin.get(f"/webhooks/{registered.json()['id']}/deliveries")
        assert deliveries.status_code == 200, deliveries.text
        queued = len(deliveries.json()["data"])
        assert queued > 0
        assert _gauge(server.url, "scimgate_webhook_fanout_lag_events") == 0
        assert _gauge(server.url, "scimgate_webhook_backlog") == queued
        assert _gauge(server.url, "scimgate_webhook_failing") == 0
        assert _gauge(server.url, "scimgate_events_held") == 0


def test_metrics_are_off_without_a_metrics_token(database_url: str, tmp_path: Path) -> None:
    with serving(database_url, tmp_path / "server.log", SCIMGATE_METRICS_TOKEN="") as url:
        for headers in ({}, METRICS_AUTH):
            answer = httpx.get(f"{url}/metrics", headers=headers)
            assert answer.status_code == 404
            assert "SCIMGATE_METRICS_TOKEN" in answer.json()["detail"]


# Structured logs


def _lines(captured: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in captured.getvalue().splitlines()]


def test_log_lines_are_json_with_time_level_and_the_request_id(json_log: io.StringIO) -> None:
    with structlog.contextvars.bound_contextvars(request_id="r-1"):
        structlog.get_logger("scimgate").warning("something happened", count=3)
    [line] = _lines(json_log)
    assert line["event"] == "something happened"
    assert line["level"] == "warning"
    assert line["request_id"] == "r-1"
    assert line["count"] == 3
    assert str(line["timestamp"]).endswith("Z")
    time.strptime(str(line["timestamp"])[:19], "%Y-%m-%dT%H:%M:%S")


def test_a_log_line_with_values_orjson_refuses_is_still_one_json_line(
    json_log: io.StringIO,
) -> None:
    """Lines are written by orjson, which refuses integers beyond 64 bits and keys that are
    not strings: such a line is written by the ``json`` module instead, not lost."""
    structlog.get_logger("scimgate").info("odd values", big=2**70, keyed={1: "one"})
    [line] = _lines(json_log)
    assert line["big"] == 2**70
    assert line["keyed"] == {"1": "one"}


def test_each_request_writes_one_access_line_without_secrets(
    database_url: str, scim: DirectoryClient, json_log: io.StringIO
) -> None:
    """In this process, so that the test reads the log lines the application writes."""
    secret_query = 'filter=userName eq "ann"&access_token=s3cret'
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        answer = client.get(
            f"/scim/v2/{scim.directory_id}/Users?{secret_query}",
            headers={"Authorization": f"Bearer {scim.token}", "X-Request-Id": "trace-9"},
        )
    assert answer.status_code == 200, answer.text
    [line] = [each for each in _lines(json_log) if each["event"] == "request"]
    assert line["request_id"] == "trace-9"
    assert line["method"] == "GET"
    assert line["path"] == f"/scim/v2/{scim.directory_id}/Users"
    assert line["status"] == 200
    assert line["directory_id"] == scim.directory_id
    assert isinstance(line["latency_ms"], float)
    output = json_log.getvalue()
    assert scim.token not in output
    assert "s3cret" not in output
