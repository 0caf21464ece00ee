"""Bodies that could break the provisioning log's writer: each request still leaves its entry.

Every authenticated SCIM request is logged, whatever its body: the entry keeps
the body when it can, and a note saying why it does not otherwise.
"""

import secrets
import time
from typing import Any

import httpx
import pytest

from conftest import DirectoryClient
from scim_payloads import BULK_SCHEMA, USER_SCHEMA

USER_HEAD = b'{"schemas": ["' + USER_SCHEMA.encode() + b'"], "userName": "hostile", "title": '

BODIES: dict[str, bytes] = {
    "arrays nested 5,000 deep": b"[" * 5000 + b"]" * 5000,
    "objects nested 5,000 deep": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "arrays nested 100 deep": b"[" * 100 + b"]" * 100,
    "arrays opened 100,000 deep": b"[" * 100_000,
    "a user nested 900 deep": USER_HEAD + b"[" * 900 + b"]" * 900 + b"}",
    "invalid utf-8": USER_HEAD + b'"\xff\xfe"}',
    "integer of 5,000 digits": USER_HEAD + b"9" * 5000 + b"}",
    "integer of 100 digits": USER_HEAD + b"9" * 100 + b"}",
    "float beyond double": USER_HEAD + b"1e400}",
    "NaN": USER_HEAD + b"NaN}",
    "Infinity": USER_HEAD + b"-Infinity}",
    "lone surrogate": USER_HEAD + b'"\\ud800"}',
    "escaped NUL": USER_HEAD + b'"\\u0000"}',
    "raw NUL byte": USER_HEAD + b'"a\x00b"}',
    "not JSON": b"userName=hostile",
    "byte order mark": b"\xef\xbb\xbf{}",
    "empty": b"",
    "a key that is a lone surrogate": b'{"\\udfff": 1}',
}

TARGETS = [
    ("POST", "/Users"),
    ("PATCH", "/Users/01a00000-0000-7000-8000-000000000000"),
    ("POST", "/Bulk"),
]


def _entry(admin: httpx.Client, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while True:
        answer = admin.get(f"/logs/{request_id}")
        if answer.status_code == 200 or time.monotonic() > deadline:
            assert answer.status_code == 200, f"no log entry for {request_id}: {answer.text}"
            found: dict[str, Any] = answer.json()
            return found
        time.sleep(0.05)


@pytest.mark.parametrize("name", list(BODIES))
def test_every_hostile_body_leaves_a_log_entry(
    scim: DirectoryClient, admin: httpx.Client, name: str
) -> None:
    for method, path in TARGETS:
        request_id = f"hostile-{secrets.token_hex(6)}"
        answer = scim.http.request(
            method, path, content=BODIES[name], headers={"X-Request-Id": request_id}
        )
        assert 400 <= answer.status_code < 500, (name, method, path, answer.text)
        entry = _entry(admin, request_id)
        assert entry["status"] == answer.status_code
        assert entry["method"] == method
        body = entry["request_body"]
        if BODIES[name]:
            assert body is not None, (name, method)


def test_a_deeply_nested_body_is_kept_as_a_note(scim: DirectoryClient, admin: httpx.Client) -> None:
    request_id = f"deep-{secrets.token_hex(6)}"
    answer = scim.http.post(
        "/Users", content=BODIES["arrays nested 5,000 deep"], headers={"X-Request-Id": request_id}
    )
    assert answer.status_code == 400
    entry = _entry(admin, request_id)
    assert entry["request_body"] == {"omitted": "nests deeper than 64 levels", "bytes": 10_000}
    assert entry["scim_type"] == "invalidSyntax"


def test_a_bulk_of_ordinary_depth_is_kept_whole(scim: DirectoryClient, admin: httpx.Client) -> None:
    request_id = f"bulk-{secrets.token_hex(6)}"
    bulk = {"schemas": [BULK_SCHEMA], "Operations": []}
    scim.http.post("/Bulk", json=bulk, headers={"X-Request-Id": request_id})
    assert _entry(admin, request_id)["request_body"] == bulk
