"""The normalized view of a directory: for the app that reads it, not the IdP that fills it."""

from __future__ import annotations

from typing import Any, cast

from scim2_models import SearchRequest
from sqlalchemy import Engine

from scimgate.scim.limits import Limits
from scimgate.scim.normalized import (
    DirectoryGroup,
    DirectoryUser,
    normalize_group,
    normalize_user,
)
from scimgate.service.administration.attribute_mappings import effective_mappings
from scimgate.service.directories import existing_directory
from scimgate.service.provisioning import listing
from scimgate.service.provisioning.scope import Scope
from scimgate.store import roles
from scimgate.store.transactions import reading


def directory_users(
    engine: Engine, directory_id: str, base_url: str, *, count: int, start_index: int = 1
) -> tuple[int, list[DirectoryUser]]:
    """One page of a directory's users, normalized, with the directory's total."""
    total, found = _page(engine, directory_id, base_url, listing.USER_KIND, count, start_index)
    return total, normalized_users(engine, directory_id, found)


def normalized_users(engine: Engine, directory_id: str, found: list[Any]) -> list[DirectoryUser]:
    """SCIM users of a directory in the normalized shape: mappings, roles and assignment applied."""
    mapped = effective_mappings(engine, directory_id)
    with reading(engine) as conn:
        assignment_group = existing_directory(conn, directory_id).assignment_group
        user_roles = roles.roles_of(conn, directory_id, [str(user.id) for user in found])
    return [
        normalize_user(
            user,
            mapped,
            user_roles[str(user.id)],
            assigned=assignment_group is None
            or any(str(group.value) == assignment_group for group in user.groups or []),
        )
        for user in found
    ]


def directory_groups(
    engine: Engine, directory_id: str, base_url: str, *, count: int, start_index: int = 1
) -> tuple[int, list[DirectoryGroup]]:
    """One page of a directory's groups, normalized, with the directory's total."""
    total, found = _page(engine, directory_id, base_url, listing.GROUP_KIND, count, start_index)
    return total, [normalize_group(group) for group in found]


def _page(
    engine: Engine,
    directory_id: str,
    base_url: str,
    kind: listing.ResourceKind,
    count: int,
    start_index: int,
) -> tuple[int, list[Any]]:
    """A page of SCIM resources as the application reads them: confirming nothing to drift."""
    with reading(engine) as conn:
        directory = existing_directory(conn, directory_id)
    scope = Scope(engine, directory, f"{base_url.rstrip('/')}/scim/v2/{directory_id}", Limits())
    search: Any = cast(Any, SearchRequest)[scope.models.of(kind.name)].model_validate(
        {"count": count, "startIndex": start_index}
    )
    page = listing.list_resources(scope, kind, search, with_members=False, by_idp=False)
    return page.total_results, page.models()
