"""Every request body is capped, per family of routes, and none is read before it may be.

Over every route of the application that takes a body, on a real server:
a declared ``Content-Length`` over the limit is answered while the client has
sent a kilobyte of it; a chunked body is answered once the limit is passed,
before the client ends it. An anonymous client is refused (401, or sent to sign
in) without its body read, but by the sign-in form, which is capped; an
authenticated oversize body gets 413 in its edge's envelope.
"""

import re
import secrets
import select
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import Engine

from conftest import ADMIN_TOKEN, DirectoryClient, LiveServer, new_directory, serving
from portal_support import Portal, sign_in
from scimgate.api.app import create_app
from scimgate.api.scim_routes import templates as scim_templates
from scimgate.config import Settings

LIMITS = {"scim": 32_768, "api": 16_384, "portal": 8_192}
LIMITS["oauth"] = LIMITS["api"]  # the token endpoint takes the cap of every route outside /admin
LIMITS["google"] = LIMITS["api"]  # and so does where Google posts its notifications
HUGE = 200 * 1024 * 1024
"""What an oversize client declares: 200 MiB, of which it sends a kilobyte."""

OVERSHOOT = 128 * 1024
"""A chunked client sends at most this beyond the limit before it expects an answer."""

PIECE = 4096


@dataclass(frozen=True)
class BodyRoute:
    method: str
    template: str

    @property
    def family(self) -> str:
        if self.template.startswith("/scim/"):
            return "scim"
        if self.template.startswith("/api/"):
            return "api"
        if self.template.startswith("/oauth/"):
            return "oauth"
        if self.template.startswith("/google/"):
            return "google"
        return "portal"

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


def _routes_with_a_body() -> list[BodyRoute]:
    """Every route of the application a client may send a body to: FastAPI's, and those of
    the SCIM edge, which routes SCIM requests itself."""
    app = create_app(Settings(database_url="sqlite://"))
    found: set[BodyRoute] = {
        BodyRoute(method, template)
        for method, template in scim_templates()
        if method in ("POST", "PUT", "PATCH", "DELETE")
    }
    for route in app.router.routes:
        included = getattr(route, "effective_route_contexts", None)
        for each in included() if included is not None else [route]:
            for method in getattr(each, "methods", None) or ():
                if method in ("POST", "PUT", "PATCH", "DELETE"):
                    found.add(BodyRoute(method, each.path))
    return sorted(found, key=str)


ROUTES = _routes_with_a_body()


def test_the_table_covers_every_edge() -> None:
    assert {route.family for route in ROUTES} == {"scim", "api", "oauth", "google", "portal"}
    assert len(ROUTES) > 50


@dataclass
class Server:
    url: str
    directory: DirectoryClient
    portal: Portal
    setup_cookie: str
    """The session cookie of a browser that opened a setup link."""


@pytest.fixture(scope="module")
def capped(
    database_url: str, engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server with small limits, with a directory and a signed-in portal session."""
    log = tmp_path_factory.mktemp("capped") / "server.log"
    limits = {
        "SCIMGATE_MAX_PAYLOAD_BYTES": str(LIMITS["scim"]),
        "SCIMGATE_MAX_API_BODY_BYTES": str(LIMITS["api"]),
        "SCIMGATE_MAX_FORM_BODY_BYTES": str(LIMITS["portal"]),
    }
    with serving(database_url, log, **limits) as url:
        directory = new_directory(LiveServer(url, engine))
        portal = sign_in(url, ADMIN_TOKEN)
        with httpx.Client(
            base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        ) as admin:
            organization = admin.post("/organizations", json={"name": "capped"}).json()
            link = admin.post(f"/organizations/{organization['id']}/setup-links", json={})
        opened = httpx.get(link.json()["url"])
        assert opened.status_code == 303, opened.text
        yield Server(url, directory, portal, opened.cookies["scimgate_setup"])
        portal.http.close()
        directory.http.close()


def _path(route: BodyRoute, directory_id: str) -> str:
    """The route's path, its directory the given one and every other id a made-up one."""
    filled = route.template.replace("{directory_id}", directory_id)
    return re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), filled)


def _credentials(server: Server, route: BodyRoute) -> dict[str, str]:
    if route.family == "scim":
        return {"Authorization": f"Bearer {server.directory.token}"}
    if route.family == "api":
        return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    if route.family in (
        "oauth",
        "google",
    ):  # their credentials travel in the body or in headers of their own
        return {}
    if route.template.startswith("/setup/"):
        return {"Cookie": f"scimgate_setup={server.setup_cookie}"}
    cookies = "; ".join(f"{name}={value}" for name, value in server.portal.http.cookies.items())
    return {"Cookie": cookies, "X-CSRF-Token": server.portal.csrf_token}


OPEN_TO_ANYONE = {
    "POST /admin/sign-in",
    "POST /admin/sign-out",
    "POST /oauth/token",
    "POST /google/notifications",
}
"""Routes that need no session or token (the token endpoint's credentials are in its body,
a Google notification's channel and token in its headers), and so read their body (up to
the limit)."""


def _anonymous_refusal(route: BodyRoute) -> int:
    """How a route refuses a client with no credentials, before reading its body."""
    if route.family in ("scim", "api") or route.template.startswith("/setup/"):
        return 401
    return 303  # to the sign-in page


_MEDIA_TYPES = {
    "scim": "application/scim+json",
    "api": "application/json",
    "oauth": "application/x-www-form-urlencoded",
    "google": "application/json",
    "portal": "application/x-www-form-urlencoded",
}


@dataclass(frozen=True)
class Answer:
    status: int
    sent: int
    """Bytes of the body the client had sent when the answer came."""

    head: str


def _send(
    url: str, route: BodyRoute, path: str, headers: dict[str, str], *, chunked: bool, most: int
) -> Answer:
    """Send a body of which at most ``most`` bytes go out, never ending it; read the answer.

    The client never finishes its body, so an answer at all shows that the
    server did not wait for the rest. A server that did would leave this
    waiting until the socket's timeout, which fails the test.
    """
    where = urlsplit(url)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {HUGE}"
    lines = [
        f"{route.method} {path} HTTP/1.1",
        f"Host: {where.netloc}",
        f"Content-Type: {_MEDIA_TYPES[route.family]}",
        framing,
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    size = min(PIECE, most)
    piece = b"a" * size
    if chunked:
        piece = f"{size:x}\r\n".encode() + piece + b"\r\n"
    with socket.create_connection((where.hostname, where.port), timeout=60) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        sent = 0
        while sent < most and not select.select([sock], [], [], 0)[0]:
            try:
                sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += size
        head = b""
        while b"\r\n\r\n" not in head:
            received = sock.recv(65536)
            if not received:
                break
            head += received
    text = head.decode("latin-1")
    status = int(text.split(" ", 2)[1])
    # Refused with its body unread, the connection ends with the answer: the server does
    # not go on reading the rest to find the next request.
    assert re.search(r"(?im)^connection: *close", text), text
    return Answer(status, sent, text)


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_a_declared_oversize_body_is_refused_unread(capped: Server, route: BodyRoute) -> None:
    path = _path(route, capped.directory.directory_id)
    anonymous = _send(capped.url, route, path, {}, chunked=False, most=1024)
    # Credentials are checked first; only the sign-in form, open to anyone, is refused its size.
    expected = 413 if str(route) in OPEN_TO_ANYONE else _anonymous_refusal(route)
    assert anonymous.status == expected, anonymous.head
    assert anonymous.sent <= 1024

    signed = _send(capped.url, route, path, _credentials(capped, route), chunked=False, most=1024)
    assert signed.sent <= 1024
    if _reads_its_body_once_authenticated(route):
        assert signed.status == 413, signed.head
        _assert_envelope(route, signed.head)
    else:
        # SCIM's DELETE and /Me take no body: they answer as they would without one.
        assert signed.status in (404, 501), signed.head


def _reads_its_body_once_authenticated(route: BodyRoute) -> bool:
    """SCIM refuses a declared size when it reads, after its token: routes with no body never
    do. Other edges refuse it before any route runs."""
    if route.family != "scim":
        return True
    return route.method in ("POST", "PUT", "PATCH") and not route.template.endswith("/Me")


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_a_chunked_oversize_body_is_refused_at_the_limit(capped: Server, route: BodyRoute) -> None:
    path = _path(route, capped.directory.directory_id)
    most = LIMITS[route.family] + OVERSHOOT
    if str(route) in OPEN_TO_ANYONE:
        anonymous = _send(capped.url, route, path, {}, chunked=True, most=most)
        assert anonymous.status == 413, anonymous.head
    else:
        # Credentials are checked before the body is read: a kilobyte never ended is answered.
        anonymous = _send(capped.url, route, path, {}, chunked=True, most=1024)
        assert anonymous.status == _anonymous_refusal(route), anonymous.head

    signed = _send(capped.url, route, path, _credentials(capped, route), chunked=True, most=most)
    # A route that reads its body answers 413; one that takes none answers as it would
    # without it (a made-up id: 404; /Me: 501; nothing held to discard: 200), never
    # having read it: the answer came before the client ended its body.
    assert signed.status < 500 or signed.status == 501, signed.head
    if str(route) in READ_THEIR_BODY:
        assert signed.status == 413, signed.head
    if signed.status == 413:
        _assert_envelope(route, signed.head)


READ_THEIR_BODY = {
    "POST /scim/v2/{directory_id}/Users",
    "PATCH /scim/v2/{directory_id}/Groups/{group_id}",
    "POST /scim/v2/{directory_id}/Bulk",
    "POST /api/v1/organizations",
    "POST /api/v1/webhooks",
    "PUT /api/v1/directories/{directory_id}/mappings/{name}",
    "POST /admin/sign-in",
    "POST /admin/organizations",
    "POST /setup/directory",
}
"""Routes of each edge that read their body whatever their path's ids."""


def test_the_routes_that_read_their_body_are_in_the_table() -> None:
    assert {str(route) for route in ROUTES} >= READ_THEIR_BODY


def _assert_envelope(route: BodyRoute, head: str) -> None:
    content_type = re.search(r"(?im)^content-type: *([^;\r]+)", head)
    assert content_type is not None, head
    expected = "text/html" if route.family == "portal" else "application/scim+json"
    assert content_type.group(1).strip() == expected, head


def test_a_body_under_the_limits_still_works(capped: Server) -> None:
    created = capped.directory.http.post(
        "/Users",
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": f"small.{secrets.token_hex(3)}",
            "title": "x" * (LIMITS["scim"] // 2),
        },
    )
    assert created.status_code == 201, created.text
    too_big = capped.directory.http.post(
        "/Users",
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "big",
            "title": "x" * LIMITS["scim"],
        },
    )
    assert too_big.status_code == 413
    assert too_big.json()["status"] == "413"
    assert f"at most {LIMITS['scim']}" in too_big.json()["detail"]
    # Refused after its token, the request is in its directory's log, with the diagnosis.
    with httpx.Client(
        base_url=f"{capped.url}/api/v1", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ) as admin:
        logged = _logged_request_ids(admin, capped.directory.directory_id, too_big)
    assert too_big.headers["X-Request-Id"] in logged


def _logged_request_ids(admin: httpx.Client, directory_id: str, answer: httpx.Response) -> set[str]:
    """The request ids of the directory's logged 413s, once the answer's is among them.

    The log is written just after the answer: this waits for it, up to ten seconds.
    """
    deadline = time.monotonic() + 10
    while True:
        found = admin.get(f"/directories/{directory_id}/logs", params={"status": 413, "limit": 500})
        assert found.status_code == 200, found.text
        ids = {entry["request_id"] for entry in found.json()["data"]}
        if answer.headers["X-Request-Id"] in ids or time.monotonic() > deadline:
            return ids
        time.sleep(0.05)


def test_the_portal_refuses_an_oversize_form_with_its_error_page(capped: Server) -> None:
    answer = capped.portal.post("/admin/organizations", data={"name": "x" * LIMITS["portal"]})
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("text/html")
    assert f"at most {LIMITS['portal']}" in answer.text


def test_settings_name_the_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCIMGATE_MAX_API_BODY_BYTES", "1234")
    monkeypatch.setenv("SCIMGATE_MAX_FORM_BODY_BYTES", "5678")
    settings = Settings.from_env()
    assert (settings.body_limits.management, settings.body_limits.portal) == (1234, 5678)
