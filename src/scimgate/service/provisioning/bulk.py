"""Running a Bulk request: each operation through the same use case as its single request.

Operations run in the order sent, except that one referring to a ``bulkId``
waits until the operation defining it has run. Each operation is its own
transaction (RFC 7644 §3.7 does not make a Bulk request atomic); processing
stops once ``failOnErrors`` operations have failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from scim2_models import (
    BulkOperation,
    ConflictException,
    Context,
    InvalidValueException,
    SCIMException,
)

from scimgate.records import frozen
from scimgate.scim.bulk import (
    BulkOperationRequest,
    Schedule,
    operation_target,
    read_envelope,
    references,
    resolve,
)
from scimgate.scim.errors import ServiceBusy
from scimgate.scim.requests import read_patch, read_resource
from scimgate.scim.resources import BulkResult, BulkResults
from scimgate.service.provisioning import groups, users
from scimgate.service.provisioning.scope import Scope
from scimgate.store.errors import Busy

_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def run(scope: Scope, payload: dict[str, Any]) -> BulkResults:
    # The operations run one after another for as long as the request lasts: each reads the
    # directory in its own transaction, as a request's first would not need to.
    scope = replace(scope, confirmed_stamp=None)
    envelope = read_envelope(payload, scope.limits.max_bulk_operations)
    operations = envelope.operations
    # Each operation's data is scanned for references once, here, and resolved once, when it runs.
    schedule = Schedule([references(op.data) | _path_reference(op) for op in operations])
    created: dict[str, str] = {}
    results: dict[int, BulkOperation[Any]] = {}
    errors = 0
    while envelope.fail_on_errors is None or errors < envelope.fail_on_errors:
        step = schedule.next()
        if step is None:
            break
        operation = operations[step.index]
        if step.unresolved:
            results[step.index] = _failed(
                operation,
                ConflictException(
                    detail=f"bulkId:{min(step.unresolved)} refers to no operation that created "
                    "a resource (it is unknown, failed, or part of a circular reference)"
                ),
            )
            errors += 1
            continue
        try:
            results[step.index] = _run_one(scope, operation, created)
        except (SCIMException, Busy) as exc:
            results[step.index] = _failed(operation, exc)
            errors += 1
            continue
        if operation.bulk_id is not None and operation.bulk_id in created:
            schedule.define(operation.bulk_id)
    return BulkResults(operations=[results[index] for index in sorted(results)])


def _path_reference(operation: BulkOperationRequest) -> set[str]:
    """The bulkId an operation's path refers to; a bad path fails later, in its own entry."""
    try:
        target = operation_target(operation.path)
    except SCIMException:
        return set()
    return references(target.resource_id) if target.resource_id else set()


@frozen
class _Endpoint:
    """The use cases behind one endpoint, in the shape a Bulk operation calls them."""

    resource_type: str
    create: Callable[[Scope, Any], Any]
    replace: Callable[[Scope, str, Any, str | None], Any]
    patch: Callable[[Scope, str, Any, str | None], Any]
    delete: Callable[[Scope, str, str | None], None]


_ENDPOINTS = {
    "Users": _Endpoint(
        "User", users.create_user, users.replace_user, users.patch_user, users.delete_user
    ),
    "Groups": _Endpoint(
        "Group",
        groups.create_group,
        groups.replace_group,
        lambda scope, group_id, patch, version: groups.patch_group(
            scope, group_id, patch, version, respond=False
        ),
        groups.delete_group,
    ),
}


def _run_one(
    scope: Scope, operation: BulkOperationRequest, created: dict[str, str]
) -> BulkOperation[Any]:
    target = operation_target(operation.path)
    endpoint = _ENDPOINTS[target.endpoint]
    method = operation.method.upper()
    resource_id = resolve(target.resource_id, created) if target.resource_id else None
    data = resolve(operation.data, created)
    if method == "POST" and resource_id is None:
        if not operation.bulk_id:
            raise InvalidValueException(detail="A Bulk POST needs a bulkId")
        resource = read_resource(
            scope.models.of(endpoint.resource_type),
            _object(data),
            Context.RESOURCE_CREATION_REQUEST,
            "data",
            scope.users_url,
        )
        made = endpoint.create(scope, resource)
        created[operation.bulk_id] = made.id
        return _result(operation, 201, scope.location(target.endpoint, made.id), made)
    if resource_id is None or method not in ("PUT", "PATCH", "DELETE"):
        raise InvalidValueException(
            detail=f"{method} {operation.path} is not a Bulk operation: use POST on "
            f"/{target.endpoint}, or PUT, PATCH or DELETE on /{target.endpoint}/<id>"
        )
    location = scope.location(target.endpoint, resource_id)
    if method == "DELETE":
        endpoint.delete(scope, resource_id, operation.version)
        return _result(operation, 204, location, None)
    if method == "PUT":
        resource = read_resource(
            scope.models.of(endpoint.resource_type),
            _object(data),
            Context.RESOURCE_REPLACEMENT_REQUEST,
            "data",
            scope.users_url,
        )
        return _result(
            operation,
            200,
            location,
            endpoint.replace(scope, resource_id, resource, operation.version),
        )
    patch = read_patch(scope.models.of(endpoint.resource_type), _object(data), scope.users_url)
    patched = endpoint.patch(scope, resource_id, patch, operation.version)
    return _result(operation, 200 if patched is not None else 204, location, patched)


def _object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidValueException(detail="A Bulk operation's data must be a JSON object")
    return data


def _result(
    operation: BulkOperationRequest, status: int, location: str, resource: Any
) -> BulkOperation[Any]:
    meta = resource.meta if resource is not None else None
    return BulkResult(
        method=operation.method.upper(),
        bulk_id=operation.bulk_id,
        version=meta.version if meta else None,
        location=location,
        status=status,
    )


def _failed(operation: BulkOperationRequest, exc: SCIMException | Busy) -> BulkOperation[Any]:
    """The result of a failed operation; one the database could not take now is a 503, as
    the whole request would be, though the others went through."""
    if isinstance(exc, Busy):
        exc = ServiceBusy(retry_after=exc.retry_after, detail=exc.detail)
    error = exc.to_error()
    return BulkResult(
        method=operation.method.upper() if operation.method.upper() in _METHODS else None,
        bulk_id=operation.bulk_id,
        status=int(error.status or 400),
        response=error,
    )
