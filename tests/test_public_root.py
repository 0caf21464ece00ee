"""The root a request's addresses are made from is Starlette's ``base_url``, however it is kept.

The SCIM edge needs it for every request, and keeps Starlette's answer per
address it depends on rather than building a URL each time. Whatever a client
sends as ``Host`` (valid, invalid, IPv6, none), and in whatever order scopes
come, the kept root must be the one Starlette gives for that scope.
"""

from types import SimpleNamespace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import HTTPConnection

from property_support import property_settings
from scimgate.api.public_root import public_root

HOSTS = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "scim.example.com",
            "scim.example.com:8443",
            "SCIM.Example.com:443",
            "[::1]:8000",
            "[::1",
            "::1",
            "127.0.0.1:80",
            "bad host",
            "example.com:notaport",
            "example.com:99999",
            "",
        ]
    ),
    st.text(max_size=12),
)
SERVERS = st.one_of(
    st.none(),
    st.tuples(
        st.sampled_from(["127.0.0.1", "::1", "scim.internal"]), st.sampled_from([80, 443, 8000])
    ),
)


def _scope(scheme: str, host: str | None, server: Any, root_path: str) -> dict[str, Any]:
    headers = [(b"user-agent", b"idp")]
    if host is not None:
        headers.append((b"host", host.encode("latin-1", "replace")))
    app = SimpleNamespace(state=SimpleNamespace(settings=SimpleNamespace(public_url=None)))
    return {
        "type": "http",
        "scheme": scheme,
        "server": server,
        "path": f"{root_path}/scim/v2/d/Users",
        "root_path": root_path,
        "query_string": b"filter=x",
        "headers": headers,
        "app": app,
    }


@property_settings(300)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["http", "https"]),
            HOSTS,
            SERVERS,
            st.sampled_from(["", "/scim-service", "/a/", "//"]),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_the_root_is_starlettes_base_url(requests: list[tuple[str, str | None, Any, str]]) -> None:
    for scheme, host, server, root_path in requests * 2:  # each again, once it is kept
        connection = HTTPConnection(_scope(scheme, host, server, root_path))
        assert public_root(connection) == str(connection.base_url).rstrip("/")


def test_the_public_url_wins_over_the_request() -> None:
    scope = _scope("http", "scim.example.com", None, "")
    scope["app"].state.settings.public_url = "https://id.example.com/base/"
    assert public_root(HTTPConnection(scope)) == "https://id.example.com/base"
