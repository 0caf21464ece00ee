"""Where the service is reached from outside, for the addresses it shows: SCIM base URLs,
setup links, the users' ``meta.location``."""

from typing import Any

from starlette.requests import HTTPConnection

_KEPT_LIMIT = 64
"""Roots kept (distinct ``Host`` headers, schemes and root paths); past this, start again."""

_kept: dict[tuple[Any, ...], str] = {}


def public_root(request: HTTPConnection) -> str:
    """``SCIMGATE_PUBLIC_URL`` (behind a proxy), else the address the request came to.

    Without a trailing slash: callers extend it with ``/scim/v2/…`` or ``/setup/…``.
    """
    public_url: str | None = request.app.state.settings.public_url
    if public_url:
        return public_url.rstrip("/")
    return _request_root(request.scope)


def _request_root(scope: Any) -> str:
    """``str(request.base_url)`` without its trailing slash, kept per address it depends on.

    Every SCIM request needs it for the locations it answers, and Starlette copies the
    scope, validates the ``Host`` header and builds a URL each time it is asked (about
    10 µs); the same few addresses come again and again, so Starlette's answer is kept.
    """
    host = next((value for name, value in scope["headers"] if name == b"host"), None)
    key = (
        scope.get("scheme", "http"),
        host,
        tuple(server) if (server := scope.get("server")) else None,
        scope.get("app_root_path", scope.get("root_path", "")),
    )
    found = _kept.get(key)
    if found is None:
        found = str(HTTPConnection(scope).base_url).rstrip("/")
        if len(_kept) >= _KEPT_LIMIT:
            _kept.clear()
        _kept[key] = found
    return found
