"""The SCIM 2.0 HTTP surface of one directory (RFC 7644), under ``/scim/v2/{directory_id}``.

Each handler parses the request, calls one service function, and renders. Handlers
are plain functions run by ``api.scim_edge`` in one worker-thread hop, once the
request has authenticated; ``ROUTES`` maps an endpoint (in canonical case) and a
method to its handler.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from scim2_models import (
    Context,
    Group,
    GroupMember,
    NotImplementedException,
    SearchRequest,
)
from starlette.requests import Request
from starlette.responses import Response

from scimgate.api.discovery_answers import DiscoveryAnswers
from scimgate.api.requests import response_parameters
from scimgate.api.responses import render, resource_response
from scimgate.records import frozen
from scimgate.scim.creation import read_creation
from scimgate.scim.etag import matches_if_none_match
from scimgate.scim.group_patch import GroupPatchStep, split_group_patch
from scimgate.scim.key_lookups import key_lookup
from scimgate.scim.member_patches import member_changes
from scimgate.scim.replacement import replacement_document
from scimgate.scim.requests import decode_json, read_patch, read_resource, read_search
from scimgate.scim.resources import GroupResource, UserResource
from scimgate.scim.user_patches import user_assignments
from scimgate.service.provisioning import bulk, discovery, groups, key_lookups, listing, users
from scimgate.service.provisioning.scope import Scope


@frozen
class Call:
    """One authenticated SCIM request, as its handler sees it."""

    request: Request
    scope: Scope
    body: bytes
    """Empty for a method that takes no body."""

    resource_id: str = ""
    """The path segment after the endpoint: a resource id, a resource type or schema name."""


Handler = Callable[[Call], Response]


def _not_modified(request: Request, resource: Any) -> Response | None:
    version = resource.meta.version if resource.meta else None
    if version and matches_if_none_match(request.headers.get("if-none-match"), version):
        return Response(status_code=304, headers={"ETag": version})
    return None


def _search(call: Call, model: Any) -> SearchRequest[Any]:
    return read_search(model, call.request.query_params, call.scope.limits)


def _replace(call: Call, model: Any, noun: str, replace: Callable[..., Any]) -> Response:
    """PUT: the resource the request sends in full replaces the one it names."""
    replacement = read_resource(
        model,
        decode_json(call.body),
        Context.RESOURCE_REPLACEMENT_REQUEST,
        noun,
        call.scope.users_url,
    )
    replaced = replace(
        call.scope, call.resource_id, replacement, call.request.headers.get("if-match")
    )
    return _answer(call, replaced, Context.RESOURCE_REPLACEMENT_RESPONSE)


def _answer(call: Call, resource: Any, context: Context, status: int = 200) -> Response:
    """A resource, shown as the request's ``attributes`` and ``excludedAttributes`` ask."""
    return resource_response(
        resource, context, status=status, parameters=response_parameters(call.request)
    )


# Users


def list_users(call: Call) -> Response:
    scope = call.scope
    lookup = key_lookup(call.request.query_params, "User", scope.models.user, scope.limits)
    if lookup is not None:
        found = key_lookups.lookup_page(scope, listing.USER_KIND, lookup)
        if found is not None:
            return render(found, Context.SEARCH_RESPONSE, parameters=lookup.response)
    search = _search(call, call.scope.models.user)
    page = listing.list_resources(call.scope, listing.USER_KIND, search)
    return render(page, Context.SEARCH_RESPONSE, parameters=search)


def search_users(call: Call) -> Response:
    scope = call.scope
    search = read_search(scope.models.user, decode_json(call.body), scope.limits)
    page = listing.list_resources(scope, listing.USER_KIND, search)
    return render(page, Context.SEARCH_RESPONSE, parameters=search)


def create_user(call: Call) -> Response:
    scope = call.scope
    creation = read_creation(scope.models, "User", call.body, scope.users_url)
    created = users.create_user_document(scope, creation.document)
    return _answer(call, created, Context.RESOURCE_CREATION_RESPONSE, status=201)


def get_user(call: Call) -> Response:
    user = users.get_user(call.scope, call.resource_id)
    return _not_modified(call.request, user) or _answer(call, user, Context.RESOURCE_QUERY_RESPONSE)


def replace_user(call: Call) -> Response:
    scope = call.scope
    doc = replacement_document(scope.models, call.body)
    if doc is None:
        return _replace(call, scope.models.user, "user", users.replace_user)
    if_match = call.request.headers.get("if-match")
    user = users.replace_user_document(scope, call.resource_id, doc, if_match)
    return _answer(call, user, Context.RESOURCE_REPLACEMENT_RESPONSE)


def patch_user(call: Call) -> Response:
    scope, request = call.scope, call.request
    if_match = request.headers.get("if-match")
    assignments = None
    if scope.models.user is UserResource:  # a registered extension changes the model
        assignments = user_assignments(call.body, scope.users_url)
    if assignments is not None:
        user = users.patch_user_document(scope, call.resource_id, assignments, if_match)
    else:
        patch = read_patch(scope.models.user, decode_json(call.body), scope.users_url)
        user = users.patch_user(scope, call.resource_id, patch, if_match)
    return _answer(call, user, Context.RESOURCE_PATCH_RESPONSE)


def delete_user(call: Call) -> Response:
    users.delete_user(call.scope, call.resource_id, call.request.headers.get("if-match"))
    return Response(status_code=204)


# Groups


def _with_members(parameters: Any) -> bool:
    """Whether a group representation will carry ``members``, so they are worth reading."""
    probe = Group(members=[GroupMember(value="probe")])
    dumped = probe.model_dump(
        scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=parameters
    )
    return "members" in dumped


def list_groups(call: Call) -> Response:
    scope = call.scope
    lookup = key_lookup(call.request.query_params, "Group", scope.models.group, scope.limits)
    if lookup is not None:
        members = lookup.response is None or _with_members(lookup.response)
        found = key_lookups.lookup_page(scope, listing.GROUP_KIND, lookup, with_members=members)
        if found is not None:
            return render(found, Context.SEARCH_RESPONSE, parameters=lookup.response)
    search = _search(call, call.scope.models.group)
    page = listing.list_resources(
        call.scope, listing.GROUP_KIND, search, with_members=_with_members(search)
    )
    return render(page, Context.SEARCH_RESPONSE, parameters=search)


def search_groups(call: Call) -> Response:
    scope = call.scope
    search = read_search(scope.models.group, decode_json(call.body), scope.limits)
    page = listing.list_resources(
        scope, listing.GROUP_KIND, search, with_members=_with_members(search)
    )
    return render(page, Context.SEARCH_RESPONSE, parameters=search)


def create_group(call: Call) -> Response:
    scope = call.scope
    creation = read_creation(scope.models, "Group", call.body, scope.users_url)
    created = groups.create_group_document(scope, creation.document, creation.members)
    return _answer(call, created, Context.RESOURCE_CREATION_RESPONSE, status=201)


def get_group(call: Call) -> Response:
    parameters = response_parameters(call.request)
    group = groups.get_group(call.scope, call.resource_id, with_members=_with_members(parameters))
    return _not_modified(call.request, group) or resource_response(
        group, Context.RESOURCE_QUERY_RESPONSE, parameters=parameters
    )


def replace_group(call: Call) -> Response:
    return _replace(call, call.scope.models.group, "group", groups.replace_group)


def patch_group(call: Call) -> Response:
    """204 unless the request names ``attributes`` (RFC 7644 §3.5.2): a one-member change to a
    100,000-member group must not serialize the group."""
    scope, request = call.scope, call.request
    steps: Sequence[GroupPatchStep] | None = None
    if scope.models.group is GroupResource:  # a registered extension changes the model
        steps = member_changes(call.body)
    if steps is None:
        patch = read_patch(scope.models.group, decode_json(call.body), scope.users_url)
        steps = split_group_patch(patch)
    parameters = response_parameters(request)
    respond = bool(parameters.attributes)
    group = groups.patch_group_steps(
        scope, call.resource_id, steps, request.headers.get("if-match"), respond=respond
    )
    if group is None:
        return Response(status_code=204)
    return resource_response(group, Context.RESOURCE_PATCH_RESPONSE, parameters=parameters)


def delete_group(call: Call) -> Response:
    groups.delete_group(call.scope, call.resource_id, call.request.headers.get("if-match"))
    return Response(status_code=204)


# Searching across resource types, Bulk, /Me


def search_all(call: Call) -> Response:
    scope = call.scope
    search = read_search(
        scope.models.user | scope.models.group, decode_json(call.body), scope.limits
    )
    page = listing.search_everything(scope, search)
    return render(page, Context.SEARCH_RESPONSE, parameters=search)


def bulk_request(call: Call) -> Response:
    response = bulk.run(call.scope, decode_json(call.body))
    return render(response, Context.BULK_RESPONSE)


def me(call: Call) -> Response:
    raise NotImplementedException(
        detail="/Me is not supported: tokens belong to a directory, not to a user"
    )


# Discovery (RFC 7644 §4)


_DISCOVERY = DiscoveryAnswers()


def _discovered(
    call: Call, name: str, payload: Callable[[Scope], Any], context: Context
) -> Response:
    """A discovery answer, rendered the first time its directory's models and address ask
    for it (``api.discovery_answers``)."""
    return _DISCOVERY.answer(call.scope, name, lambda: render(payload(call.scope), context))


def service_provider_config(call: Call) -> Response:
    return _discovered(
        call, "ServiceProviderConfig", discovery.configuration, Context.RESOURCE_QUERY_RESPONSE
    )


def resource_types(call: Call) -> Response:
    return _discovered(call, "ResourceTypes", discovery.resource_types, Context.SEARCH_RESPONSE)


def resource_type(call: Call) -> Response:
    return _discovered(
        call,
        f"ResourceTypes/{call.resource_id}",
        lambda scope: discovery.resource_type(scope, call.resource_id),
        Context.RESOURCE_QUERY_RESPONSE,
    )


def schemas(call: Call) -> Response:
    return _discovered(call, "Schemas", discovery.schemas, Context.SEARCH_RESPONSE)


def schema(call: Call) -> Response:
    return _discovered(
        call,
        f"Schemas/{call.resource_id}",
        lambda scope: discovery.schema(scope, call.resource_id),
        Context.RESOURCE_QUERY_RESPONSE,
    )


_ME: dict[str, Handler] = {method: me for method in ("GET", "POST", "PUT", "PATCH", "DELETE")}

ROUTES: dict[tuple[str, bool], dict[str, Handler]] = {
    ("Users", False): {"GET": list_users, "POST": create_user},
    ("Users", True): {
        "GET": get_user,
        "PUT": replace_user,
        "PATCH": patch_user,
        "DELETE": delete_user,
    },
    ("Users/.search", False): {"POST": search_users},
    ("Groups", False): {"GET": list_groups, "POST": create_group},
    ("Groups", True): {
        "GET": get_group,
        "PUT": replace_group,
        "PATCH": patch_group,
        "DELETE": delete_group,
    },
    ("Groups/.search", False): {"POST": search_groups},
    (".search", False): {"POST": search_all},
    ("Bulk", False): {"POST": bulk_request},
    ("Me", False): _ME,
    ("ServiceProviderConfig", False): {"GET": service_provider_config},
    ("ResourceTypes", False): {"GET": resource_types},
    ("ResourceTypes", True): {"GET": resource_type},
    ("Schemas", False): {"GET": schemas},
    ("Schemas", True): {"GET": schema},
}
"""By (endpoint, whether a segment follows it) then method: the handler."""

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
"""Methods whose handlers read a JSON body (``/Me`` refuses before reading any)."""


PREFIX = "/scim/v2/{directory_id}"
_SEGMENTS = {
    "Users": "user_id",
    "Groups": "group_id",
    "ResourceTypes": "name",
    "Schemas": "schema_id",
}
"""What the segment after each endpoint names, in the path templates."""


def templates() -> list[tuple[str, str]]:
    """Every route as (method, path template), as a router would list them."""
    return [
        (method, f"{PREFIX}/{endpoint}" + (f"/{{{_SEGMENTS[endpoint]}}}" if by_id else ""))
        for (endpoint, by_id), handlers in ROUTES.items()
        for method in handlers
    ]
