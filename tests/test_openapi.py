"""The OpenAPI document: valid, it declares the bearer scheme, and the API honours it.

Schemathesis generates requests for every ``/api/v1`` operation from the
document and sends them, with a write key, to a live server; none may be
answered with a server error. It runs on SQLite only, to keep the run short.
"""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error

from conftest import LiveServer, serving
from scimgate.api.app import create_app
from scimgate.config import Settings
from scimgate.service.administration import admin_keys, tenants
from scimgate.store.engine import open_engine
from scimgate.store.migrate import upgrade


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("openapi")
    url = f"sqlite:///{folder / 'scimgate.db'}"
    engine = open_engine(url)
    upgrade(engine)
    organization = tenants.create_organization(engine, "Schemathesis Inc")
    tenants.create_directory(engine, organization.id, "fuzzed")
    with serving(url, folder / "server.log") as server_url:
        yield LiveServer(server_url, engine)


@pytest.fixture(scope="module")
def document(sqlite_server: LiveServer) -> dict[str, Any]:
    answer = httpx.get(f"{sqlite_server.url}/openapi.json", timeout=30)
    assert answer.status_code == 200
    found: dict[str, Any] = answer.json()
    return found


@pytest.fixture(scope="module")
def write_key(sqlite_server: LiveServer) -> str:
    return admin_keys.create_key(sqlite_server.engine, "schemathesis", "write").secret


schema = schemathesis.openapi.from_dict(
    create_app(Settings(database_url="sqlite://")).openapi()
).include(path_regex="^/api/v1/")
"""The document the server under test serves, built from the same code without a database."""


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)


def test_every_management_operation_requires_the_bearer_key(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert [scheme["scheme"] for scheme in schemes.values()] == ["bearer"]
    (name,) = schemes
    operations = [
        (path, method, operation)
        for path, item in document["paths"].items()
        if path.startswith("/api/v1/")
        for method, operation in item.items()
    ]
    assert len(operations) > 20
    for path, method, operation in operations:
        assert operation["security"] == [{name: []}], (method, path)
    admin_paths = {
        "/api/v1/organizations",
        "/api/v1/organizations/{organization_id}/directories",
        "/api/v1/directories/{directory_id}/tokens/rotate",
        "/api/v1/directories/{directory_id}/mappings/{name}",
        "/api/v1/directories/{directory_id}/roles/{rule_id}",
        "/api/v1/keys",
        "/api/v1/audit",
    }
    assert admin_paths <= set(document["paths"])
    for path in admin_paths:
        assert all(op.get("summary") for op in document["paths"][path].values()), path
    secret = document["paths"]["/api/v1/keys"]["post"]["responses"]["201"]
    assert secret["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/IssuedKey"
    }


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_is_a_server_error(
    case: Any, sqlite_server: LiveServer, write_key: str
) -> None:
    if isinstance(case.query, dict) and "wait" in case.query:
        case.query["wait"] = 0  # a long poll would only make the run slow
    response = case.call(
        base_url=sqlite_server.url, headers={"Authorization": f"Bearer {write_key}"}, timeout=30
    )
    case.validate_response(response, checks=[not_a_server_error])
