"""The normalized view of a directory: for the app that reads it, not the IdP that fills it."""

from __future__ import annotations

from typing import Any, cast

from scim2_models import SearchRequest
from sqlalchemy import Engine

from scimgate.config import Limits
from scimgate.scim.normalized import DirectoryUser, normalize_user
from scimgate.service import listing
from scimgate.service.attribute_mappings import effective_mappings
from scimgate.service.scope import Scope
from scimgate.store import roles, tenants
from scimgate.store.transactions import reading


def directory_users(
    engine: Engine, directory_id: str, base_url: str, *, count: int, start_index: int = 1
) -> tuple[int, list[DirectoryUser]]:
    """One page of a directory's users, normalized, with the directory's total."""
    with reading(engine) as conn:
        directory = tenants.existing_directory(conn, directory_id)
    scope = Scope(engine, directory, f"{base_url.rstrip('/')}/scim/v2/{directory_id}", Limits())
    search: Any = cast(Any, SearchRequest)[scope.models.user].model_validate(
        {"count": count, "startIndex": start_index}
    )
    page = listing.list_resources(scope, listing.USER_KIND, search)
    found = page.resources or []
    mapped = effective_mappings(engine, directory_id)
    with reading(engine) as conn:
        user_roles = roles.roles_of(conn, directory_id, [str(user.id) for user in found])
    return page.total_results or 0, [
        normalize_user(user, mapped, user_roles[str(user.id)]) for user in found
    ]
