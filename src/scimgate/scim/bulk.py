"""Reading a Bulk request (RFC 7644 §3.7): the envelope, operation paths, ``bulkId`` references.

The envelope is read here and each operation's ``data`` later, one by one, so
that one bad operation is reported in its own response entry instead of
refusing the whole request.
"""

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from scim2_models import InvalidPathException, InvalidValueException, TooManyException

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


@dataclass(frozen=True)
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
    """Every bulkId referred to anywhere in an operation's data."""
    if isinstance(value, str):
        found = bulk_reference(value)
        return {found} if found else set()
    if isinstance(value, dict):
        return set().union(*(references(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(*(references(item) for item in value))
    return set()


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
