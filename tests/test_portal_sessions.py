"""Signing in to the portal: keys, cookies, CSRF, read-only sessions, expiry and sign-out."""

import hashlib
import re
import time
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import update

from conftest import ADMIN_TOKEN, LiveServer, serving
from portal_support import sign_in
from scimgate.config import SessionPolicy
from scimgate.service.administration import admin_keys, audit
from scimgate.service.portal import portal_sessions
from scimgate.store import portal_sessions as session_store
from scimgate.store.audit import AuditEntry, AuditQuery
from scimgate.store.engine import open_engine
from scimgate.store.ids import utcnow
from scimgate.store.tables.access import portal_sessions as portal_sessions_table

FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def hash_of(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _sign_in_form(http: httpx.Client) -> str:
    found = FORM_TOKEN.search(http.get("/admin/sign-in").text)
    assert found is not None
    return found.group(1)


def _latest_audit(live_server: LiveServer, action: str, actor: str | None = None) -> AuditEntry:
    page = audit.entries(live_server.engine, AuditQuery(actor=actor, limit=500))
    return next(entry for entry in page.entries if entry.action == action)


def test_the_portal_sends_strangers_to_the_sign_in_page(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url) as http:
        answer = http.get("/admin/")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/admin/sign-in?next=/admin/"
        fragment = http.get("/admin/", headers={"HX-Request": "true"})
        assert fragment.status_code == 401
        assert fragment.headers["HX-Redirect"].startswith("/admin/sign-in")


def test_a_wrong_key_is_refused_and_audited(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url) as http:
        form_token = _sign_in_form(http)
        refused = http.post(
            "/admin/sign-in", data={"key": "scimgate_admin_nope", "csrf_token": form_token}
        )
        assert refused.status_code == 401
        assert "The admin key is not valid" in refused.text
        assert "scimgate_portal" not in refused.cookies
    entry = _latest_audit(live_server, "portal sign-in", "unauthenticated")
    assert entry.outcome == "refused"
    assert entry.detail == "The admin key is not valid"


def test_signing_in_needs_the_forms_own_token(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url) as http:
        _sign_in_form(http)
        forged = http.post("/admin/sign-in", data={"key": ADMIN_TOKEN, "csrf_token": "forged"})
        assert forged.status_code == 403
        assert "scimgate_portal" not in forged.cookies


def test_the_session_cookie_is_http_only_same_site_and_bound_to_the_portal(
    live_server: LiveServer,
) -> None:
    with httpx.Client(base_url=live_server.url) as http:
        form_token = _sign_in_form(http)
        signed_in = http.post(
            "/admin/sign-in",
            data={"key": ADMIN_TOKEN, "csrf_token": form_token, "next": "https://evil.example/"},
        )
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == "/admin/", "never an open redirect"
        cookie = next(
            value
            for name, value in signed_in.headers.multi_items()
            if name == "set-cookie" and value.startswith("scimgate_portal=")
        )
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie
        assert "Path=/admin" in cookie
        page = http.get("/admin/")
        assert page.status_code == 200
        assert page.headers["Cache-Control"] == "no-store"
        assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
        assert page.headers["Referrer-Policy"] == "no-referrer"


def test_cookies_are_secure_behind_https(database_url: str, tmp_path: Path) -> None:
    with (
        serving(
            database_url, tmp_path / "server.log", SCIMGATE_PUBLIC_URL="https://scim.example.com"
        ) as url,
        httpx.Client(base_url=url) as http,
    ):
        form = http.get("/admin/sign-in")
        assert "Secure" in form.headers["set-cookie"]
        form_token = FORM_TOKEN.search(form.text)
        assert form_token is not None
        # A client on plain HTTP keeps a Secure cookie to itself: send it as a proxy would pass it.
        signed_in = http.post(
            "/admin/sign-in",
            data={"key": ADMIN_TOKEN, "csrf_token": form_token.group(1)},
            headers={"Cookie": f"scimgate_sign_in={form_token.group(1)}"},
        )
        assert signed_in.status_code == 303
        assert "Secure" in signed_in.headers["set-cookie"]


def test_a_change_without_the_sessions_csrf_token_is_refused(live_server: LiveServer) -> None:
    key = admin_keys.create_key(live_server.engine, "csrf target", "write")
    portal = sign_in(live_server.url, key.secret)
    name = f"csrf-{time.time_ns()}"
    forged = portal.http.post("/admin/organizations", data={"name": name})
    assert forged.status_code == 403
    wrong = portal.http.post("/admin/organizations", data={"name": name, "csrf_token": "x" * 43})
    assert wrong.status_code == 403
    assert "No organization" in portal.get("/admin/", params={"q": name}).text
    entry = _latest_audit(live_server, "portal POST /admin/organizations", key.record.id)
    assert entry.outcome == "refused"


def test_a_read_only_key_may_look_but_not_change(live_server: LiveServer) -> None:
    key = admin_keys.create_key(live_server.engine, "support", "read")
    reader = sign_in(live_server.url, key.secret)
    assert "read-only" in reader.get("/admin/").text
    name = f"read-only-{time.time_ns()}"
    refused = reader.post("/admin/organizations", data={"name": name})
    assert refused.status_code == 403
    assert "read-only" in refused.text
    assert "No organization" in reader.get("/admin/", params={"q": name}).text
    signed_out = reader.post("/admin/sign-out")
    assert signed_out.status_code == 303


def test_signing_out_ends_the_session_for_good(live_server: LiveServer) -> None:
    signed_in = sign_in(live_server.url, ADMIN_TOKEN)
    cookie = signed_in.http.cookies.get("scimgate_portal")
    assert cookie
    assert signed_in.post("/admin/sign-out").status_code == 303
    with httpx.Client(base_url=live_server.url, cookies={"scimgate_portal": cookie}) as replay:
        assert replay.get("/admin/").status_code == 303, "the old cookie no longer opens anything"


def test_revoking_the_key_ends_its_sessions(live_server: LiveServer) -> None:
    key = admin_keys.create_key(live_server.engine, "leaver", "write")
    signed_in = sign_in(live_server.url, key.secret)
    assert signed_in.get("/admin/").status_code == 200
    admin_keys.revoke_key(live_server.engine, key.record.id)
    assert signed_in.get("/admin/").status_code == 303


def test_an_idle_session_expires(database_url: str, tmp_path: Path) -> None:
    """The configured idleness ends a session: its last use is moved back past it."""
    with serving(database_url, tmp_path / "server.log", SCIMGATE_PORTAL_IDLE_MINUTES="5") as url:
        signed_in = sign_in(url, ADMIN_TOKEN)
        assert signed_in.get("/admin/").status_code == 200
        cookie = signed_in.http.cookies.get("scimgate_portal")
        assert cookie
        _last_seen(database_url, cookie, minutes_ago=4)
        assert signed_in.get("/admin/").status_code == 200, "4 idle minutes of 5 end nothing"
        _last_seen(database_url, cookie, minutes_ago=6)
        expired = signed_in.get("/admin/")
        assert expired.status_code == 303
        assert expired.headers["location"].startswith("/admin/sign-in")


def _last_seen(database_url: str, secret: str, *, minutes_ago: float) -> None:
    """Move a session's last use back in time, as if it had been idle since."""
    engine = open_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                update(portal_sessions_table)
                .where(portal_sessions_table.c.secret_hash == hash_of(secret))
                .values(last_seen_at=utcnow() - timedelta(minutes=minutes_ago))
            )
    finally:
        engine.dispose()


def test_upkeep_forgets_sessions_a_day_after_they_end(live_server: LiveServer) -> None:
    engine = live_server.engine
    policy = SessionPolicy()
    opened = portal_sessions.sign_in(engine, ADMIN_TOKEN, ADMIN_TOKEN, policy)
    portal_sessions.sign_out(engine, opened.session)
    assert portal_sessions.resume(engine, opened.secret, "admin", policy, ADMIN_TOKEN) is None
    with engine.connect() as conn:
        assert session_store.find_by_hash(conn, hash_of(opened.secret)) is not None
    assert portal_sessions.purge_expired(engine, utcnow() + timedelta(days=2)) >= 1
    with engine.connect() as conn:
        assert session_store.find_by_hash(conn, hash_of(opened.secret)) is None
