"""The management API's refusals as its OpenAPI document declares them.

FastAPI documents a ``422`` with its own validation shape on every operation that
takes parameters; the API answers ``400`` with the SCIM error envelope instead
(``api.invalid_requests``), as it does for every other refusal. The document says so.
"""

from typing import Any

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "description": (
        "The SCIM error envelope (RFC 7644 §3.12) of every refusal. The detail names each "
        "refused field with its rule and ends with the request id."
    ),
    "type": "object",
    "required": ["schemas", "status"],
    "properties": {
        "schemas": {
            "type": "array",
            "items": {"type": "string", "enum": ["urn:ietf:params:scim:api:messages:2.0:Error"]},
        },
        "status": {"type": "string", "description": "The HTTP status, as a string."},
        "scimType": {
            "type": "string",
            "description": "invalidValue for a refused field, invalidSyntax for a body not JSON.",
        },
        "detail": {"type": "string"},
    },
}

REFUSALS = {
    "400": "A parameter or a field of the body is refused; the detail names each one",
    "401": "No admin key, or one that is unknown or revoked",
    "403": "A read-only key asked to change something",
}

_FASTAPI_SHAPES = ("HTTPValidationError", "ValidationError")


def with_refusals(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with the refusals every management operation can answer, in place of
    FastAPI's ``422``."""
    components = document.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_SHAPES:
        components.pop(name, None)
    components["Error"] = ERROR_SCHEMA
    reference = {"application/scim+json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in document.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for status, description in REFUSALS.items():
                responses.setdefault(status, {"description": description, "content": reference})
    return document
