"""Finding the directory user behind a login, so that JIT and SCIM never make one person twice.

An app with single sign-on creates accounts at first login (just in time); the
IdP also pushes the same people over SCIM. At login the app knows a few claims
of the person: the IdP's object id, the subject (SAML NameID, OIDC
``preferred_username``) and an e-mail address. They are tried in that order,
from the most to the least stable: the object id never changes, a username
changes on a rename, and an address can move between people or be shared.

The search is the SCIM listing with a filter (translated to SQL), read as the
application reads: it confirms nothing to drift detection.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, cast

from pydantic import ValidationError
from scim2_models import SearchRequest
from sqlalchemy import Engine

from scimgate.records import frozen
from scimgate.scim.limits import Limits
from scimgate.scim.normalized import DirectoryUser
from scimgate.service.administration.directory_view import normalized_users
from scimgate.service.directories import existing_directory
from scimgate.service.errors import Invalid, NotUnique, UnknownOrganization
from scimgate.service.provisioning import listing
from scimgate.service.provisioning.scope import Scope
from scimgate.store import tenants
from scimgate.store.tenants import Directory
from scimgate.store.transactions import reading

MAX_CANDIDATES = 10
"""How many users an ambiguous lookup names."""


class LoginKey(StrEnum):
    """What a lookup matched on, in the order the keys are tried."""

    external_id = "external_id"
    """The IdP's id for the user (SCIM ``externalId``, exact): Entra's objectId, Okta's id."""

    subject = "subject"
    """The login name against ``userName``, in any case: usually the UPN or an e-mail."""

    email = "email"
    """An address against any of the user's ``emails``, in any case."""


_ATTRIBUTES = {
    LoginKey.external_id: "externalId",
    LoginKey.subject: "userName",
    LoginKey.email: "emails.value",
}


@frozen
class LoginClaims:
    """What the app knows about the person signing in; any of them may be missing."""

    external_id: str | None = None
    subject: str | None = None
    email: str | None = None

    def keys(self) -> list[tuple[LoginKey, str]]:
        """The claims given, in the order they are tried."""
        given = [(key, getattr(self, key.value)) for key in LoginKey]
        return [(key, value) for key, value in given if value]


@frozen
class UserMatch:
    directory_id: str
    matched: LoginKey
    user: DirectoryUser


class AmbiguousLogin(NotUnique):
    """The first key that matched anything matched several users: linking would be a guess."""

    def __init__(self, key: LoginKey, value: str, total: int, candidates: list[UserMatch]):
        self.key = key
        self.value = value
        self.total = total
        self.candidates = candidates
        named = "; ".join(
            f"{found.user.id} ({found.user.username}) in directory {found.directory_id}"
            for found in candidates
        )
        super().__init__(f"{key.value} {value!r} matches {total} users: {named}")


def find_in_directory(
    engine: Engine, directory_id: str, claims: LoginClaims, base_url: str
) -> UserMatch | None:
    """The directory's user behind a login, or None; ``UnknownDirectory`` for an unknown one."""
    with reading(engine) as conn:
        directory = existing_directory(conn, directory_id)
    return _first_match(engine, [directory], claims, base_url)


def find_in_organization(
    engine: Engine, organization_id: str, claims: LoginClaims, base_url: str
) -> UserMatch | None:
    """The user behind a login in any of the organization's directories, and never another's."""
    with reading(engine) as conn:
        if tenants.get_organization(conn, organization_id) is None:
            raise UnknownOrganization(organization_id)
        directories = tenants.organization_directories(conn, organization_id)
    return _first_match(engine, directories, claims, base_url)


def _first_match(
    engine: Engine, directories: list[Directory], claims: LoginClaims, base_url: str
) -> UserMatch | None:
    """The match on the first key that matches anything; AmbiguousLogin if it matches several."""
    keys = claims.keys()
    if not keys:
        raise Invalid("give external_id, subject or email", subject="Lookup")
    for key, value in keys:
        total = 0
        found: list[UserMatch] = []
        for directory in directories:
            matching, users = _matching(engine, directory, key, value, base_url)
            total += matching
            found += [UserMatch(directory.id, key, user) for user in users]
        if total > 1:
            raise AmbiguousLogin(key, value, total, found[:MAX_CANDIDATES])
        if found:
            return found[0]
    return None


def _matching(
    engine: Engine, directory: Directory, key: LoginKey, value: str, base_url: str
) -> tuple[int, list[DirectoryUser]]:
    """How many of the directory's users a key matches, and the first few of them, normalized."""
    if "\x00" in value:
        return 0, []  # No stored value holds U+0000, and PostgreSQL text cannot even bind it.
    scope = Scope(engine, directory, f"{base_url.rstrip('/')}/scim/v2/{directory.id}", Limits())
    try:
        search: Any = cast(Any, SearchRequest)[scope.models.user].model_validate(
            {"count": MAX_CANDIDATES, "filter": f"{_ATTRIBUTES[key]} eq {json.dumps(value)}"}
        )
    except ValidationError:
        # The schema refuses the value (an e-mail without an @): no stored user can hold it.
        return 0, []
    page = listing.list_resources(scope, listing.USER_KIND, search, by_idp=False)
    found = page.models()
    if not found:
        return 0, []
    return page.total_results, normalized_users(engine, directory.id, found)
