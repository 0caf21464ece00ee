"""Who is calling: the client address a request came from."""

from starlette.types import Scope

UNKNOWN_CLIENT = "unknown"


def client_address(scope: Scope) -> str:
    """The peer's address, as the server saw it (after a trusted proxy's ``X-Forwarded-For``).

    Refused credentials are paced and audited by it.
    """
    client = scope.get("client")
    return str(client[0]) if client else UNKNOWN_CLIENT
