"""What the service says about itself (RFC 7644 §4), with locations in the caller's directory."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from scim2_models import (
    ListResponse,
    Meta,
    NotFoundException,
    ResourceType,
    Schema,
    ScimProvider,
    ServiceProviderConfig,
)

from scimgate.scim.limits import Limits
from scimgate.scim.resources import DESCRIPTIONS, service_provider
from scimgate.service.provisioning.scope import Scope


@lru_cache(maxsize=8)
def _provider(limits: Limits) -> ScimProvider:
    return service_provider(limits)


def configuration(scope: Scope) -> ServiceProviderConfig:
    config = _provider(scope.limits).config
    assert config is not None
    return config.model_copy(
        update={
            "meta": Meta(
                resource_type="ServiceProviderConfig",
                location=f"{scope.base_url}/ServiceProviderConfig",
            )
        }
    )


def resource_types(scope: Scope) -> ListResponse[ResourceType]:
    found = [_located_type(scope, each) for each in _resource_types(scope)]
    return ListResponse[ResourceType](**_whole_list(found))


def resource_type(scope: Scope, name: str) -> ResourceType:
    for each in _resource_types(scope):
        if each.id == name:
            return _located_type(scope, each)
    raise NotFoundException(detail=f"No resource type {name!r}: this service has User and Group")


def schemas(scope: Scope) -> ListResponse[Schema]:
    found = [_located_schema(scope, each) for each in _schemas(scope)]
    return ListResponse[Schema](**_whole_list(found))


def schema(scope: Scope, schema_id: str) -> Schema:
    for each in _schemas(scope):
        if str(each.id).lower() == schema_id.lower():
            return _located_schema(scope, each)
    raise NotFoundException(detail=f"No schema {schema_id!r} is served here")


def _resource_types(scope: Scope) -> list[ResourceType]:
    """User and Group, each listing the extensions the directory registered for it."""
    return [_resource_type(scope.models.user), _resource_type(scope.models.group)]


@lru_cache(maxsize=256)
def _resource_type(model: Any) -> ResourceType:
    described = ResourceType.from_resource(model)
    description = DESCRIPTIONS.get(str(described.schema_), described.description)
    return described.model_copy(update={"description": description})


def _schemas(scope: Scope) -> list[Schema]:
    """The built-in schemas, then the directory's own."""
    models = scope.models
    return [
        *_built_in_schemas(scope.limits),
        *models.user_extensions,
        *models.group_extensions,
    ]


@lru_cache(maxsize=8)
def _built_in_schemas(limits: Limits) -> tuple[Schema, ...]:
    return tuple(
        each.model_copy(update={"description": DESCRIPTIONS.get(str(each.id), each.description)})
        for each in _provider(limits).schemas
    )


def _located_type(scope: Scope, each: ResourceType) -> ResourceType:
    meta = Meta(resource_type="ResourceType", location=f"{scope.base_url}/ResourceTypes/{each.id}")
    return each.model_copy(update={"meta": meta})


def _located_schema(scope: Scope, each: Schema) -> Schema:
    meta = Meta(resource_type="Schema", location=f"{scope.base_url}/Schemas/{each.id}")
    return each.model_copy(update={"meta": meta})


def _whole_list(found: list[Any]) -> dict[str, Any]:
    """A list response holding everything at once: discovery lists are short."""
    return {
        "total_results": len(found),
        "start_index": 1,
        "items_per_page": len(found),
        "resources": found,
    }
