"""Where the service is reached from outside, for the addresses it shows: SCIM base URLs,
setup links, the users' ``meta.location``."""

from starlette.requests import HTTPConnection


def public_root(request: HTTPConnection) -> str:
    """``SCIMGATE_PUBLIC_URL`` (behind a proxy), else the address the request came to.

    Without a trailing slash: callers extend it with ``/scim/v2/…`` or ``/setup/…``.
    """
    root: str = request.app.state.settings.public_url or str(request.base_url)
    return root.rstrip("/")
