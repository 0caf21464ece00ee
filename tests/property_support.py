"""What the property and fuzz tests share: how many examples to run, and tenant snapshots."""

import os
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from conftest import DirectoryClient, LiveServer
from event_support import published
from scim_payloads import ERROR_SCHEMA


def examples(default: int) -> int:
    """How many examples a property runs: ``default``, or ``SCIMGATE_PROPERTY_EXAMPLES``."""
    return int(os.environ.get("SCIMGATE_PROPERTY_EXAMPLES") or default)


def property_settings(default_examples: int) -> settings:
    """Bounded and reproducible in CI; random and as long as asked when the variable is set."""
    longer = "SCIMGATE_PROPERTY_EXAMPLES" in os.environ
    return settings(
        max_examples=examples(default_examples),
        deadline=None,
        derandomize=not longer,
        # Shrinking a failure can take minutes against a live server: only in longer runs.
        phases=list(Phase) if longer else [Phase.explicit, Phase.generate],
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def mostly(usual: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``usual`` nineteen times in twenty, else ``odd``: for inputs that must be well formed
    often enough to reach a path, and malformed often enough to test its refusals."""
    return st.integers(min_value=0, max_value=19).flatmap(lambda n: odd if n == 0 else usual)


def snapshot(server: LiveServer, directory: DirectoryClient) -> dict[str, Any]:
    """Everything a directory holds (users, groups with members, versions) and its event count."""
    users = directory.http.get("/Users", params={"count": 1000})
    groups = directory.http.get("/Groups", params={"count": 1000})
    assert users.status_code == groups.status_code == 200, (users.text, groups.text)
    return {
        "users": users.json().get("Resources", []),
        "groups": groups.json().get("Resources", []),
        "events": len(published(server.engine, directory.directory_id)),
    }


def check_answer(response: httpx.Response) -> None:
    """No server error, a 429 that says when to retry, and SCIM errors in the SCIM envelope."""
    assert response.status_code < 500, (
        response.request.method,
        response.request.url,
        response.text,
    )
    if response.status_code == 429:
        assert response.headers.get("retry-after"), response.headers
    elif response.status_code >= 400:
        error = response.json()
        assert ERROR_SCHEMA in error["schemas"], error
        assert error["status"] == str(response.status_code), error


def limited(response: httpx.Response) -> bool:
    """Whether the server asked to slow down (a 429 with ``Retry-After``): nothing to judge."""
    check_answer(response)
    return response.status_code == 429


def near_misses(resource_id: str) -> list[str]:
    """Ids one edit away from a real one: a flipped last and first character, a changed case."""
    flip = {"0": "1", "1": "0", "a": "b", "b": "a", "f": "e", "e": "f"}
    return [
        resource_id[:-1] + flip.get(resource_id[-1], "0"),
        flip.get(resource_id[0], "0") + resource_id[1:],
        resource_id.upper(),
        resource_id + " ",
    ]
