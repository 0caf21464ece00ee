"""Reading a Bulk request (RFC 7644 §3.7): the envelope, operation paths, ``bulkId`` references.

The envelope is read here and each operation's ``data`` later, one by one, so
that one bad operation is reported in its own response entry instead of
refusing the whole request.
"""

import heapq
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from scim2_models import InvalidPathException, InvalidValueException, TooManyException

from scimgate.records import frozen
from scimgate.scim.errors import from_validation_error

BULK_REQUEST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
_REFERENCE = re.compile(r"^bulkId:(.+)$")
_PATH = re.compile(r"^/(Users|Groups)(?:/([^/]+))?$")


class BulkOperationRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    method: str
    path: str
    bulk_id: str | None = Field(default=None, alias="bulkId")
    version: str | None = None
    data: Any = None


class BulkEnvelope(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    schemas: list[str]
    fail_on_errors: int | None = Field(default=None, alias="failOnErrors", ge=1)
    operations: list[BulkOperationRequest] = Field(alias="Operations")


@frozen
class OperationTarget:
    """What an operation's path designates: an endpoint, and a resource id (or a bulkId)."""

    endpoint: str
    resource_id: str | None


def read_envelope(payload: dict[str, Any], max_operations: int) -> BulkEnvelope:
    try:
        envelope = BulkEnvelope.model_validate(payload)
    except ValidationError as exc:
        raise from_validation_error(exc, "Bulk request") from None
    if BULK_REQUEST_SCHEMA not in envelope.schemas:
        raise InvalidValueException(detail=f"A Bulk request lists the schema {BULK_REQUEST_SCHEMA}")
    if len(envelope.operations) > max_operations:
        too_many = TooManyException(
            detail=f"The request has {len(envelope.operations)} operations; "
            f"at most {max_operations} are accepted (bulk.maxOperations)"
        )
        too_many.status = 413
        raise too_many
    return envelope


def operation_target(path: str) -> OperationTarget:
    match = _PATH.match(path)
    if match is None:
        raise InvalidPathException(
            detail=f"Bulk path {path!r} is not /Users, /Users/<id>, /Groups or /Groups/<id>"
        )
    return OperationTarget(match.group(1), match.group(2))


def bulk_reference(value: str) -> str | None:
    """The bulkId a ``bulkId:<id>`` value refers to, else None."""
    match = _REFERENCE.match(value)
    return match.group(1) if match else None


def references(value: Any) -> set[str]:
    """Every bulkId referred to anywhere in an operation's data, in one pass over it."""
    found: set[str] = set()
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            reference = bulk_reference(item)
            if reference is not None:
                found.add(reference)
        elif isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return found


def resolve(value: Any, created: dict[str, str]) -> Any:
    """The data with every ``bulkId:<id>`` replaced by the id the operation created."""
    if isinstance(value, str):
        found = bulk_reference(value)
        return created[found] if found is not None else value
    if isinstance(value, dict):
        return {key: resolve(item, created) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, created) for item in value]
    return value


@frozen
class Step:
    """The next operation to take: ready to run, or blocked by bulkIds nothing defined."""

    index: int
    unresolved: frozenset[str]


class Schedule:
    """The order a Bulk request's operations are taken in (RFC 7644 §3.7.1, §3.7.2).

    The first operation (in the order sent) whose bulkId references are all
    defined runs next. When none is, the first one still waiting is blocked: it
    refers to a bulkId that is unknown, belongs to an operation that failed, or
    is part of a circular reference, and fails without running.

    Each operation's references are given once, up front; defining a bulkId
    wakes only the operations that wait for it. Taking every step of a request
    therefore costs time linear in its operations and references, however many
    operations wait or fail, rather than a scan of every waiting operation per step.
    """

    def __init__(self, needs: list[set[str]]) -> None:
        self._needs = needs
        self._missing = [len(need) for need in needs]
        self._waiters: dict[str, list[int]] = {}
        for index, need in enumerate(needs):
            for bulk_id in need:
                self._waiters.setdefault(bulk_id, []).append(index)
        self._defined: set[str] = set()
        self._ready = [index for index, missing in enumerate(self._missing) if not missing]
        heapq.heapify(self._ready)
        self._taken = [False] * len(needs)
        self._first_waiting = 0

    def next(self) -> Step | None:
        """The next operation, taken; None once every operation has been taken."""
        while self._ready:
            index = heapq.heappop(self._ready)
            if not self._taken[index]:
                return self._take(index, frozenset())
        while self._first_waiting < len(self._taken) and self._taken[self._first_waiting]:
            self._first_waiting += 1
        if self._first_waiting == len(self._taken):
            return None
        index = self._first_waiting
        return self._take(index, frozenset(self._needs[index] - self._defined))

    def define(self, bulk_id: str) -> None:
        """An operation created the resource of this bulkId: its dependents may run."""
        if bulk_id in self._defined:
            return
        self._defined.add(bulk_id)
        for index in self._waiters.pop(bulk_id, []):
            self._missing[index] -= 1
            if not self._missing[index] and not self._taken[index]:
                heapq.heappush(self._ready, index)

    def _take(self, index: int, unresolved: frozenset[str]) -> Step:
        self._taken[index] = True
        return Step(index, unresolved)
