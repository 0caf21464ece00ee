"""Numbers and times at the edge of their range, on every management route: a 4xx, never a 5xx.

The routes, their parameters and their body fields are read from the served
OpenAPI document, so a route added later is walked too. Each numeric or
date-time query parameter and body field gets every edge value in turn, on
each backend; the portal's forms and query parameters taking numbers or times
get the same.
"""

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, get_args

import httpx
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from conftest import LiveServer
from portal_support import Portal
from scimgate.admin import (
    dashboard,
    directory_pages,
    log_pages,
    mapping_pages,
    setup,
    sign_in,
    webhook_pages,
)
from scimgate.service.administration import tenants
from scimgate.service.event_stream import webhooks
from webhook_support import LOOPBACK

NUMBERS: list[Any] = [
    2**63,
    -(2**63) - 1,
    2**64,
    10**40,
    1e12,
    1e308,
    -1e308,
    float("inf"),
    float("-inf"),
    float("nan"),
    -1,
    0.5,
]
TIMES = [
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
    "9999-12-31T23:59:59",
    "2024-02-30T00:00:00Z",
    "99999-01-01T00:00:00Z",
    "1e309",
    "-1",
]


def _query_text(value: Any) -> str:
    if isinstance(value, float) and value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return str(value)


def _kinds(schema: dict[str, Any]) -> set[str]:
    """``number`` and/or ``date-time`` where a parameter or field holds one (also when nullable)."""
    found: set[str] = set()
    for each in [schema, *schema.get("anyOf", []), *schema.get("oneOf", [])]:
        if each.get("type") in ("integer", "number"):
            found.add("number")
        if each.get("format") == "date-time":
            found.add("date-time")
    return found


def _edges(kinds: set[str]) -> list[Any]:
    return [*(NUMBERS if "number" in kinds else []), *(TIMES if "date-time" in kinds else [])]


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def _filler(schema: dict[str, Any]) -> Any:
    """A plain value of a required field, so that the edge value is what gets checked."""
    kinds = _kinds(schema)
    if "date-time" in kinds:
        return "2024-01-01T00:00:00Z"
    if "number" in kinds:
        return 1
    if schema.get("type") == "boolean":
        return False
    if schema.get("type") == "array":
        return []
    return "edge"


@pytest.fixture
def ids(live_server: LiveServer) -> dict[str, str]:
    """Real ids for the path parameters, so that the routes reach their handlers."""
    organization = tenants.create_organization(live_server.engine, "edge org")
    created = tenants.create_directory(live_server.engine, organization.id, "edge")
    endpoint = webhooks.register(
        live_server.engine,
        "https://127.0.0.1:9/hook",
        organization_id=organization.id,
        allowed=LOOPBACK,
    )
    return {
        "organization_id": organization.id,
        "directory_id": created.directory.id,
        "endpoint_id": endpoint.endpoint.id,
    }


@pytest.fixture
def document(live_server: LiveServer) -> dict[str, Any]:
    found: dict[str, Any] = httpx.get(f"{live_server.url}/openapi.json", timeout=30).json()
    return found


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in document["paths"].items():
        if path.startswith("/api/v1/"):
            for method, operation in methods.items():
                yield method.upper(), path, operation


def _requests(
    document: dict[str, Any], ids: dict[str, str]
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(method, url, httpx keyword arguments) for each edge value of each parameter and field."""
    for method, path, operation in _operations(document):
        url = path.format_map({**{name: "unknown" for name in _path_names(path)}, **ids})
        parameters = [p for p in operation.get("parameters", []) if p["in"] == "query"]
        required = {p["name"]: _filler(p["schema"]) for p in parameters if p.get("required", False)}
        for parameter in parameters:
            for value in _edges(_kinds(parameter["schema"])):
                params = {**required, parameter["name"]: _query_text(value)}
                yield method, url, {"params": params}
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body is None:
            continue
        schema = _resolve(document, body["schema"])
        properties = {
            name: _resolve(document, field) for name, field in schema.get("properties", {}).items()
        }
        base = {name: _filler(properties[name]) for name in schema.get("required", [])}
        for name, field in properties.items():
            for value in _edges(_kinds(field)):
                content = json.dumps({**base, name: value})  # NaN and Infinity as JSON extensions
                yield method, url, {"content": content, "params": required}


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def test_every_management_route_bounds_its_numbers_and_times(
    admin: httpx.Client, document: dict[str, Any], ids: dict[str, str]
) -> None:
    walked = list(_requests(document, ids))
    assert len({(method, url) for method, url, _ in walked}) >= 10  # the walk found the routes
    for method, url, arguments in walked:
        headers = {"Content-Type": "application/json"} if "content" in arguments else {}
        answer = admin.request(method, url.removeprefix("/api/v1"), headers=headers, **arguments)
        assert answer.status_code < 500, (method, url, arguments, answer.text)


REPORTED = [
    ("POST", "/webhooks/{endpoint_id}/rotate-secret", {"overlap_hours": 1e12}, "overlap_hours"),
    ("POST", "/webhooks/{endpoint_id}/rotate-secret", {"overlap_hours": 1e308}, "overlap_hours"),
    (
        "POST",
        "/webhooks/{endpoint_id}/rotate-secret",
        {"overlap_hours": float("inf")},
        "overlap_hours",
    ),
    ("POST", "/webhooks/{endpoint_id}/replay", {"from_sequence": 2**63}, "from_sequence"),
    ("PATCH", "/directories/{directory_id}/safety", {"max_count": 2**63}, "max_count"),
    ("PATCH", "/directories/{directory_id}/safety", {"max_count": 2**31}, "max_count"),
]
REPORTED_QUERIES = [
    ("/directories/{directory_id}/drift", {"since": "0001-01-01T00:00:00+14:00"}, "since"),
    ("/directories/{directory_id}/drift", {"since": "9999-12-31T23:59:59-14:00"}, "since"),
    (
        "/offboarding/report",
        {"organization_id": "{organization_id}", "since": "0001-01-01T00:00:00+14:00"},
        "since",
    ),
    (
        "/offboarding/report",
        {
            "organization_id": "{organization_id}",
            "since": "2024-01-01T00:00:00Z",
            "until": "9999-12-31T23:59:59-14:00",
        },
        "until",
    ),
    ("/directories/{directory_id}/logs", {"since": "0001-01-01T00:00:00+14:00"}, "since"),
    ("/directories/{directory_id}/logs", {"before": "99999999999999999999999.x"}, "before"),
]


def test_the_reported_inputs_are_refused_naming_the_field(
    admin: httpx.Client, ids: dict[str, str]
) -> None:
    for method, path, body, field in REPORTED:
        answer = admin.request(
            method,
            path.format_map(ids),
            content=json.dumps(body),
            headers={"Content-Type": "application/json"},
        )
        assert answer.status_code == 400, (path, body, answer.text)
        assert field in answer.json()["detail"], answer.text
    for path, params, field in REPORTED_QUERIES:
        query = {name: value.format_map(ids) for name, value in params.items()}
        answer = admin.get(path.format_map(ids), params=query)
        assert answer.status_code == 400, (path, params, answer.text)
        assert field in answer.json()["detail"], answer.text


def test_times_with_an_offset_inside_the_calendar_are_taken_in_utc(
    admin: httpx.Client, ids: dict[str, str]
) -> None:
    answer = admin.get(
        f"/directories/{ids['directory_id']}/drift", params={"since": "2024-01-01T09:00:00+09:00"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["since"].startswith("2024-01-01T00:00:00")


PARSED_BY_HAND = [
    # Portal inputs typed as text and read by the handler: the walk below cannot see them.
    ("GET", "/admin/directories/{directory_id}/logs", {"since": "0001-01-01T00:00:00+14:00"}),
    ("GET", "/admin/directories/{directory_id}/logs", {"since": "9999-12-31T23:59:59-14:00"}),
    ("GET", "/admin/directories/{directory_id}/logs", {"before": "99999999999999999999999.x"}),
    ("POST", "/admin/organizations/{organization_id}/setup-links", {"valid_days": "²"}),
    ("POST", "/admin/organizations/{organization_id}/setup-links", {"valid_days": "99999999"}),
]


PORTAL_MODULES = (
    sign_in,
    dashboard,
    directory_pages,
    log_pages,
    mapping_pages,
    webhook_pages,
    setup,
)
"""The portal's pages, as ``scimgate.admin.install`` mounts them."""


def _portal_inputs() -> Iterator[tuple[str, str, str, str, set[str]]]:
    """(method, path, query or form, name, kinds) of each typed number or time the portal takes."""
    routes = [route for module in PORTAL_MODULES for route in module.router.routes]
    for route in routes:
        if not isinstance(route, APIRoute):
            continue
        dependants = list(_with_dependencies(route.dependant))
        inputs = [("query", f) for each in dependants for f in each.query_params]
        inputs += [("form", f) for each in dependants for f in each.body_params]
        for where, field in inputs:
            kinds = _python_kinds(field.field_info.annotation)
            if kinds:
                for method in route.methods:
                    yield method, route.path, where, field.alias, kinds


def _with_dependencies(dependant: Dependant) -> Iterator[Dependant]:
    """A handler's dependant and its dependencies': the handler takes their parameters too."""
    yield dependant
    for each in dependant.dependencies:
        yield from _with_dependencies(each)


def _python_kinds(annotation: Any) -> set[str]:
    found: set[str] = set()
    for each in (annotation, *get_args(annotation)):
        if each in (int, float):
            found.add("number")
        if each is datetime:
            found.add("date-time")
    return found


def test_the_portal_bounds_its_numbers_and_times(portal: Portal, ids: dict[str, str]) -> None:
    walked = list(_portal_inputs())
    assert any(name == "priority" for _, _, _, name, _ in walked)  # the walk sees the forms
    cases = [
        (method, path, {name: _query_text(value)}, where)
        for method, path, where, name, kinds in walked
        for value in _edges(kinds)
    ]
    cases += [
        (method, path, values, "query" if method == "GET" else "form")
        for method, path, values in PARSED_BY_HAND
    ]
    for method, path, values, where in cases:
        url = path.format_map({**{name: "unknown" for name in _path_names(path)}, **ids})
        if method == "GET":
            answer = portal.get(url, params=values)
        elif where == "query":
            answer = portal.post(url, params=values)
        else:
            answer = portal.post(url, data=values)
        assert answer.status_code < 500, (method, path, values, answer.text[:500])
