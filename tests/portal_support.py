"""Driving the portal over HTTP as a signed-in browser would: cookies kept, CSRF token sent."""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from conftest import ADMIN_TOKEN, LiveServer

_FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
_SESSION_TOKEN = re.compile(r'"X-CSRF-Token": "([^"]+)"')


@dataclass
class Portal:
    """A browser-like client of the portal: it follows no redirects by itself."""

    http: httpx.Client
    csrf_token: str

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def post(self, path: str, data: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        """A form post with the session's CSRF token."""
        return self.http.post(path, data={"csrf_token": self.csrf_token, **(data or {})}, **kwargs)


def sign_in(url: str, key: str) -> Portal:
    """Sign in with an admin key, as the sign-in form does; the session's CSRF token is read
    from the first page shown after signing in."""
    http = httpx.Client(base_url=url, timeout=30)
    form = http.get("/admin/sign-in")
    form_token = _FORM_TOKEN.search(form.text)
    assert form_token is not None, form.text
    signed_in = http.post(
        "/admin/sign-in", data={"key": key, "csrf_token": form_token.group(1), "next": "/admin/"}
    )
    assert signed_in.status_code == 303, signed_in.text
    page = http.get("/admin/")
    found = _SESSION_TOKEN.search(page.text)
    assert found is not None, page.text
    return Portal(http, found.group(1))


@pytest.fixture
def portal(live_server: LiveServer) -> Iterator[Portal]:
    """The portal of the live server, signed in with the operator's admin token."""
    signed_in = sign_in(live_server.url, ADMIN_TOKEN)
    yield signed_in
    signed_in.http.close()


def oauth_token(shown: dict[str, str]) -> httpx.Response:
    """The token endpoint's answer to the OAuth client credentials a page showed (its fields
    ``oauth-endpoint``, ``oauth-client-id`` and ``oauth-client-secret``)."""
    return httpx.post(
        shown["oauth-endpoint"],
        data={"grant_type": "client_credentials"},
        auth=(shown["oauth-client-id"], shown["oauth-client-secret"]),
        timeout=30,
    )
