"""Every answer tells caches and browsers not to keep or sniff it: it holds directory data."""

import httpx

from conftest import DirectoryClient, LiveServer


def test_scim_answers_and_refusals_are_never_cached(scim: DirectoryClient) -> None:
    answers = [
        scim.http.get("/Users"),
        scim.http.get("/Users/not-there"),
        httpx.get(f"{scim.base_url}/Users", headers={"Authorization": "Bearer wrong"}),
    ]
    assert [answer.status_code for answer in answers] == [200, 404, 401]
    for answer in answers:
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"


def test_pages_keep_their_own_stricter_policy(live_server: LiveServer) -> None:
    page = httpx.get(f"{live_server.url}/admin/sign-in")
    assert page.status_code == 200
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
