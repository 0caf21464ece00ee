"""The SCIM 2.0 HTTP surface of one directory (RFC 7644), under ``/scim/v2/{directory_id}``.

Each handler parses the request, calls one service function, and renders.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from scim2_models import (
    Context,
    Group,
    GroupMember,
    NotImplementedException,
    SearchRequest,
)

from scimgate.api.dependencies import scim_scope
from scimgate.api.requests import read_body, response_parameters
from scimgate.api.responses import render, resource_response
from scimgate.scim.etag import matches_if_none_match
from scimgate.scim.requests import decode_json, read_patch, read_resource, read_search
from scimgate.service import bulk, discovery, groups, listing, users
from scimgate.service.scope import Scope

router = APIRouter(prefix="/scim/v2/{directory_id}")

ScopeDep = Annotated[Scope, Depends(scim_scope)]
Body = Annotated[bytes, Depends(read_body)]


def _not_modified(request: Request, resource: Any) -> Response | None:
    version = resource.meta.version if resource.meta else None
    if version and matches_if_none_match(request.headers.get("if-none-match"), version):
        return Response(status_code=304, headers={"ETag": version})
    return None


def _search(request: Request, model: Any, scope: Scope) -> SearchRequest[Any]:
    return read_search(model, request.query_params, scope.limits)


# Users


@router.get("/Users")
def list_users(request: Request, scope: ScopeDep) -> Response:
    search = _search(request, scope.models.user, scope)
    page = listing.list_resources(scope, listing.USER_KIND, search)
    return render(page, Context.SEARCH_RESPONSE, parameters=search)


@router.post("/Users/.search")
def search_users(scope: ScopeDep, body: Body) -> Response:
    search = read_search(scope.models.user, decode_json(body), scope.limits)
    page = listing.list_resources(scope, listing.USER_KIND, search)
    return render(page, Context.SEARCH_RESPONSE, parameters=search)


@router.post("/Users")
def create_user(request: Request, scope: ScopeDep, body: Body) -> Response:
    user = read_resource(
        scope.models.user,
        decode_json(body),
        Context.RESOURCE_CREATION_REQUEST,
        "user",
        scope.users_url,
    )
    created = users.create_user(scope, user)
    return resource_response(
        created,
        Context.RESOURCE_CREATION_RESPONSE,
        status=201,
        parameters=response_parameters(request),
    )


@router.get("/Users/{user_id}")
def get_user(request: Request, scope: ScopeDep, user_id: str) -> Response:
    user = users.get_user(scope, user_id)
    return _not_modified(request, user) or resource_response(
        user, Context.RESOURCE_QUERY_RESPONSE, parameters=response_parameters(request)
    )


@router.put("/Users/{user_id}")
def replace_user(request: Request, scope: ScopeDep, user_id: str, body: Body) -> Response:
    replacement = read_resource(
        scope.models.user,
        decode_json(body),
        Context.RESOURCE_REPLACEMENT_REQUEST,
        "user",
        scope.users_url,
    )
    user = users.replace_user(scope, user_id, replacement, request.headers.get("if-match"))
    return resource_response(
        user, Context.RESOURCE_REPLACEMENT_RESPONSE, parameters=response_parameters(request)
    )


@router.patch("/Users/{user_id}")
def patch_user(request: Request, scope: ScopeDep, user_id: str, body: Body) -> Response:
    patch = read_patch(scope.models.user, decode_json(body), scope.users_url)
    user = users.patch_user(scope, user_id, patch, request.headers.get("if-match"))
    return resource_response(
        user, Context.RESOURCE_PATCH_RESPONSE, parameters=response_parameters(request)
    )


@router.delete("/Users/{user_id}", status_code=204)
def delete_user(request: Request, scope: ScopeDep, user_id: str) -> Response:
    users.delete_user(scope, user_id, request.headers.get("if-match"))
    return Response(status_code=204)


# Groups


def _with_members(parameters: Any) -> bool:
    """Whether a group representation will carry ``members``, so they are worth reading."""
    probe = Group(members=[GroupMember(value="probe")])
    dumped = probe.model_dump(
        scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=parameters
    )
    return "members" in dumped


@router.get("/Groups")
def list_groups(request: Request, scope: ScopeDep) -> Response:
    search = _search(request, scope.models.group, scope)
    page = listing.list_resources(
        scope, listing.GROUP_KIND, search, with_members=_with_members(search)
    )
    return render(page, Context.SEARCH_RESPONSE, parameters=search)


@router.post("/Groups/.search")
def search_groups(scope: ScopeDep, body: Body) -> Response:
    search = read_search(scope.models.group, decode_json(body), scope.limits)
    page = listing.list_resources(
        scope, listing.GROUP_KIND, search, with_members=_with_members(search)
    )
    return render(page, Context.SEARCH_RESPONSE, parameters=search)


@router.post("/Groups")
def create_group(request: Request, scope: ScopeDep, body: Body) -> Response:
    group = read_resource(
        scope.models.group,
        decode_json(body),
        Context.RESOURCE_CREATION_REQUEST,
        "group",
        scope.users_url,
    )
    created = groups.create_group(scope, group)
    return resource_response(
        created,
        Context.RESOURCE_CREATION_RESPONSE,
        status=201,
        parameters=response_parameters(request),
    )


@router.get("/Groups/{group_id}")
def get_group(request: Request, scope: ScopeDep, group_id: str) -> Response:
    parameters = response_parameters(request)
    group = groups.get_group(scope, group_id, with_members=_with_members(parameters))
    return _not_modified(request, group) or resource_response(
        group, Context.RESOURCE_QUERY_RESPONSE, parameters=parameters
    )


@router.put("/Groups/{group_id}")
def replace_group(request: Request, scope: ScopeDep, group_id: str, body: Body) -> Response:
    replacement = read_resource(
        scope.models.group,
        decode_json(body),
        Context.RESOURCE_REPLACEMENT_REQUEST,
        "group",
        scope.users_url,
    )
    group = groups.replace_group(scope, group_id, replacement, request.headers.get("if-match"))
    return resource_response(
        group, Context.RESOURCE_REPLACEMENT_RESPONSE, parameters=response_parameters(request)
    )


@router.patch("/Groups/{group_id}")
def patch_group(request: Request, scope: ScopeDep, group_id: str, body: Body) -> Response:
    """204 unless the request names ``attributes`` (RFC 7644 §3.5.2): a one-member change to a
    100,000-member group must not serialize the group."""
    patch = read_patch(scope.models.group, decode_json(body), scope.users_url)
    parameters = response_parameters(request)
    respond = bool(parameters.attributes)
    group = groups.patch_group(
        scope, group_id, patch, request.headers.get("if-match"), respond=respond
    )
    if group is None:
        return Response(status_code=204)
    return resource_response(group, Context.RESOURCE_PATCH_RESPONSE, parameters=parameters)


@router.delete("/Groups/{group_id}", status_code=204)
def delete_group(request: Request, scope: ScopeDep, group_id: str) -> Response:
    groups.delete_group(scope, group_id, request.headers.get("if-match"))
    return Response(status_code=204)


# Searching across resource types, Bulk, /Me


@router.post("/.search")
def search_all(scope: ScopeDep, body: Body) -> Response:
    search = read_search(scope.models.user | scope.models.group, decode_json(body), scope.limits)
    page = listing.search_everything(scope, search)
    return render(page, Context.SEARCH_RESPONSE, parameters=search)


@router.post("/Bulk")
def bulk_request(scope: ScopeDep, body: Body) -> Response:
    response = bulk.run(scope, decode_json(body))
    return render(response, Context.BULK_RESPONSE)


@router.api_route("/Me", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
def me(scope: ScopeDep) -> Response:
    raise NotImplementedException(
        detail="/Me is not supported: tokens belong to a directory, not to a user"
    )


# Discovery (RFC 7644 §4)


@router.get("/ServiceProviderConfig")
def service_provider_config(scope: ScopeDep) -> Response:
    return render(discovery.configuration(scope), Context.RESOURCE_QUERY_RESPONSE)


@router.get("/ResourceTypes")
def resource_types(request: Request, scope: ScopeDep) -> Response:
    return render(discovery.resource_types(scope), Context.SEARCH_RESPONSE)


@router.get("/ResourceTypes/{name}")
def resource_type(scope: ScopeDep, name: str) -> Response:
    return render(discovery.resource_type(scope, name), Context.RESOURCE_QUERY_RESPONSE)


@router.get("/Schemas")
def schemas(scope: ScopeDep) -> Response:
    return render(discovery.schemas(scope), Context.SEARCH_RESPONSE)


@router.get("/Schemas/{schema_id}")
def schema(scope: ScopeDep, schema_id: str) -> Response:
    return render(discovery.schema(scope, schema_id), Context.RESOURCE_QUERY_RESPONSE)
