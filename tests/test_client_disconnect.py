"""A client that closes its connection halfway through a body: a 499 in the logs, no server error.

A real server on loopback, and a raw socket that announces a body, sends half
of it and closes. The provisioning log, the metrics and the server's own log
must say the client left, not that the server failed.
"""

import secrets
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import ADMIN_TOKEN, METRICS_AUTH, LiveServer, new_directory, serving
from scimgate.store.engine import open_engine


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[tuple[LiveServer, Path]]:
    """A server of its own, whose log this test reads, counting requests per directory."""
    log = tmp_path / "server.log"
    with serving(database_url, log, SCIMGATE_METRICS_DIRECTORY_LABELS="1") as url:
        yield LiveServer(url, open_engine(database_url)), log


def _half_a_body(url: str, path: str, token: str, request_id: str) -> None:
    """Send the headers of a 2,000-byte body and the first 1,000 bytes, then close."""
    parts = urlsplit(url)
    body = b'{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "' + (
        b"x" * 2000
    )
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/scim+json\r\n"
        f"X-Request-Id: {request_id}\r\nContent-Length: 2000\r\n\r\n"
    ).encode()
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        sock.sendall(head + body[:1000])
        time.sleep(0.3)  # let the server start reading before the connection goes
    # Closed here, with 1,000 bytes of the body never sent.


def _entry(url: str, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while True:
        answer = httpx.get(
            f"{url}/api/v1/logs/{request_id}",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=30,
        )
        if answer.status_code == 200 or time.monotonic() > deadline:
            assert answer.status_code == 200, f"no log entry for {request_id}: {answer.text}"
            found: dict[str, Any] = answer.json()
            return found
        time.sleep(0.05)


def _statuses(url: str, directory_id: str) -> dict[str, float]:
    """The SCIM request counter's values for one directory, by status."""
    text = httpx.get(f"{url}/metrics", headers=METRICS_AUTH, timeout=30).text
    counted: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "scimgate_scim_requests_total"
                and labels.get("directory") == directory_id
            ):
                counted[labels["status"]] = counted.get(labels["status"], 0) + sample.value
    return counted


def test_a_request_cut_off_mid_body_is_a_499_not_a_500(
    server: tuple[LiveServer, Path],
) -> None:
    live, log = server
    directory = new_directory(live)
    for path in ("/Users", "/Bulk"):
        request_id = f"cut-{secrets.token_hex(6)}"
        _half_a_body(
            live.url, f"/scim/v2/{directory.directory_id}{path}", directory.token, request_id
        )
        entry = _entry(live.url, request_id)
        assert entry["status"] == 499, entry
        assert entry["diagnosis"].startswith("499: the IdP closed the connection"), entry
    counted = _statuses(live.url, directory.directory_id)
    assert counted.get("499") == 2, counted
    assert "500" not in counted, counted
    # The server still answers on new connections, and its log shows no server error.
    assert directory.http.get("/Users").status_code == 200
    written = log.read_text()
    assert "unexpected error" not in written
    assert "Traceback" not in written
    assert '"status":499' in written
