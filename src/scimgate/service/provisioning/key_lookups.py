"""Answering a recognised key lookup (``scim.key_lookups``) with one indexed query.

The answer is the page ``listing.list_resources`` gives for the same request:
the same rows in the same order, the same documents, the same drift
confirmations. The value is compared as the filter translation compares it:
``userName`` and group ``displayName`` folded (``fold``, against the folded
key columns), ``externalId`` exactly. Two cases are handed back (None) for the
general path to answer: encryption at rest, whose lookup columns hold keyed
hashes, and a full page, whose total needs counting and whose walk is
remembered for the next page.
"""

from sqlalchemy import Connection

from scimgate.scim.compare import fold
from scimgate.scim.documents import ListDocument
from scimgate.scim.key_lookups import KeyLookup
from scimgate.service.provisioning import confirmations
from scimgate.service.provisioning.listing import USER_KIND, ResourceKind
from scimgate.service.provisioning.representation import user_document
from scimgate.service.provisioning.scope import Scope
from scimgate.store import user_lookups
from scimgate.store.encryption import keyring_of_engine
from scimgate.store.membership_lists import Membership
from scimgate.store.stored_resources import StoredResource
from scimgate.store.transactions import reading

_COLUMNS = {
    ("User", "userName"): ("user_name_key", True),
    ("User", "externalId"): ("external_id", False),
    ("Group", "displayName"): ("display_name_key", True),
    ("Group", "externalId"): ("external_id", False),
}
"""(resource type, attribute) -> (column, whether it holds the folded value)."""


def lookup_page(
    scope: Scope, kind: ResourceKind, lookup: KeyLookup, *, with_members: bool = True
) -> ListDocument | None:
    """The first page of resources whose key equals the value, or None for the general path."""
    if keyring_of_engine(scope.engine) is not None:
        return None
    limits = scope.limits
    count = min(
        lookup.count if lookup.count is not None else limits.default_count, limits.max_results
    )
    if count < 1:
        return None
    column, folded = _COLUMNS[(kind.name, lookup.attribute)]
    value = fold(lookup.value) if folded else lookup.value
    with reading(scope.engine) as conn:
        found = _users_found(conn, scope, kind, column, value, count)
        rows = (
            [stored for stored, _ in found]
            if found is not None
            else kind.table.matching(conn, scope.directory_id, column, value, count)
        )
        if len(rows) == count:
            return None
        resources = (
            [user_document(scope, stored, groups) for stored, groups in found]
            if found is not None
            else kind.build(conn, scope, rows, with_members)
        )
    confirmations.confirm_seen(scope, kind.table, rows)
    return ListDocument(
        total_results=len(rows),
        start_index=1,
        resources=resources,
        next_cursor=None,
        list_model=scope.models.list_response,
    )


def _users_found(
    conn: Connection, scope: Scope, kind: ResourceKind, column: str, value: str, count: int
) -> list[tuple[StoredResource, list[Membership]]] | None:
    """The users found, each with its groups, read in one statement
    (``store.user_lookups``); None for groups, which the kind's builder reads."""
    if kind is not USER_KIND:
        return None
    return user_lookups.matching_with_groups(conn, scope.directory_id, column, value, count)
