"""Finding the directory user behind a login: keys, their order, ambiguity, tenant boundaries."""

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from conftest import DirectoryClient, LiveServer
from scim_payloads import ERROR_SCHEMA, group, patch, user
from scimgate.service.administration import tenants
from scimgate.service.event_stream import safety
from scimgate.store.resource_tables import USERS
from scimgate.store.transactions import reading


@dataclass
class Organization:
    id: str
    directories: list[DirectoryClient]


@pytest.fixture
def organizations(live_server: LiveServer) -> Iterator[list[Organization]]:
    """Two organizations, the first with two directories and the second with one."""
    made = [_organization(live_server, 2), _organization(live_server, 1)]
    yield made
    for organization in made:
        for directory in organization.directories:
            directory.http.close()


def _organization(server: LiveServer, directories: int) -> Organization:
    organization = tenants.create_organization(server.engine, f"org {secrets.token_hex(3)}")
    clients = []
    for n in range(directories):
        created = tenants.create_directory(server.engine, organization.id, f"idp {n}")
        base_url = f"{server.url}/scim/v2/{created.directory.id}"
        http = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {created.token.secret}"},
            timeout=30,
        )
        clients.append(DirectoryClient(created.directory.id, created.token.secret, base_url, http))
    return Organization(organization.id, clients)


def _create(directory: DirectoryClient, user_name: str, *emails: str, **more: Any) -> str:
    body = user(user_name, emails=[{"value": email, "type": "work"} for email in emails], **more)
    response = directory.http.post("/Users", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _lookup(admin: httpx.Client, directory_id: str, **keys: str) -> httpx.Response:
    return admin.get(f"/directories/{directory_id}/users/lookup", params=keys)


def _found(response: httpx.Response) -> tuple[str, str]:
    """The id and the key of a successful lookup."""
    assert response.status_code == 200, response.text
    body = response.json()
    return body["user"]["id"], body["matched"]


def test_each_key_finds_the_user_in_the_normalized_shape(
    scim: DirectoryClient, admin: httpx.Client
) -> None:
    ann = _create(
        scim, "ann.lee@corp.example", "ann@corp.example", "a.lee@home.example", externalId="oid-1"
    )
    _create(scim, "bob@corp.example", "bob@corp.example", externalId="oid-2")

    by_id = _lookup(admin, scim.directory_id, external_id="oid-1")
    assert _found(by_id) == (ann, "external_id")
    assert _found(_lookup(admin, scim.directory_id, subject="ann.lee@corp.example")) == (
        ann,
        "subject",
    )
    assert _found(_lookup(admin, scim.directory_id, email="a.lee@home.example")) == (ann, "email")

    body = by_id.json()
    assert body["directory_id"] == scim.directory_id
    assert body["user"]["idp_id"] == "oid-1"
    assert body["user"]["username"] == "ann.lee@corp.example"
    assert body["user"]["emails"] == ["ann@corp.example", "a.lee@home.example"]
    assert body["user"]["state"] == "active"
    listed = admin.get(f"/directories/{scim.directory_id}/users").json()["users"]
    assert body["user"] == next(each for each in listed if each["id"] == ann)


def test_keys_are_tried_from_the_most_stable(scim: DirectoryClient, admin: httpx.Client) -> None:
    """Each key wins over the weaker ones, even when those name another user."""
    ann = _create(scim, "ann@corp.example", "ann@corp.example", externalId="oid-ann")
    bob = _create(scim, "bob@corp.example", "bob@corp.example", externalId="oid-bob")
    carol = _create(scim, "carol@corp.example", "carol@corp.example")

    every = {"external_id": "oid-ann", "subject": "bob@corp.example", "email": "carol@corp.example"}
    assert _found(_lookup(admin, scim.directory_id, **every)) == (ann, "external_id")
    no_id = {**every, "external_id": "oid-unknown"}
    assert _found(_lookup(admin, scim.directory_id, **no_id)) == (bob, "subject")
    only_email = {**no_id, "subject": "nobody@corp.example"}
    assert _found(_lookup(admin, scim.directory_id, **only_email)) == (carol, "email")


def test_subject_and_email_ignore_case_and_the_external_id_does_not(
    scim: DirectoryClient, admin: httpx.Client
) -> None:
    ann = _create(scim, "Ann.Lee@Corp.example", "Ann@Corp.Example", externalId="Oid-1")

    assert _found(_lookup(admin, scim.directory_id, subject="ANN.LEE@corp.EXAMPLE")) == (
        ann,
        "subject",
    )
    assert _found(_lookup(admin, scim.directory_id, email="ann@corp.example")) == (ann, "email")
    assert _lookup(admin, scim.directory_id, external_id="oid-1").status_code == 404
    assert _found(_lookup(admin, scim.directory_id, external_id="Oid-1")) == (ann, "external_id")


def test_no_match_unknown_directory_and_no_key(scim: DirectoryClient, admin: httpx.Client) -> None:
    _create(scim, "ann@corp.example", "ann@corp.example", externalId="oid-1")

    missing = _lookup(admin, scim.directory_id, subject="bob@corp.example", email="not an address")
    assert missing.status_code == 404
    assert missing.json()["schemas"] == [ERROR_SCHEMA]
    assert _lookup(admin, scim.directory_id, subject="ann@corp.example\x00").status_code == 404
    assert _lookup(admin, "no-such-directory", subject="ann@corp.example").status_code == 404
    assert _lookup(admin, scim.directory_id).status_code == 400
    not_admin = admin.get(
        f"/directories/{scim.directory_id}/users/lookup",
        params={"subject": "ann@corp.example"},
        headers={"Authorization": f"Bearer {scim.token}"},
    )
    assert not_admin.status_code == 401


def test_an_email_of_several_users_is_a_conflict_naming_them(
    scim: DirectoryClient, admin: httpx.Client
) -> None:
    ann = _create(scim, "ann@corp.example", "team@corp.example")
    bob = _create(scim, "bob@corp.example", "TEAM@corp.example")

    conflict = _lookup(admin, scim.directory_id, email="team@corp.example")
    assert conflict.status_code == 409
    error = conflict.json()
    assert error["scimType"] == "uniqueness"
    assert ann in error["detail"] and bob in error["detail"]
    # A stronger key that matches one user is not ambiguous.
    both = {"subject": "bob@corp.example", "email": "team@corp.example"}
    assert _found(_lookup(admin, scim.directory_id, **both)) == (bob, "subject")


def test_organization_lookup_searches_each_of_its_directories(
    organizations: list[Organization], admin: httpx.Client
) -> None:
    first, second = organizations[0].directories
    ann = _create(second, "ann@corp.example", "ann@corp.example", externalId="oid-ann")
    _create(first, "bob@corp.example", "bob@corp.example")
    found = admin.get(
        f"/organizations/{organizations[0].id}/users/lookup", params={"subject": "ANN@corp.example"}
    )
    assert _found(found) == (ann, "subject")
    assert found.json()["directory_id"] == second.directory_id

    # The same login name in two of its directories: only a directory lookup can tell.
    twin = _create(first, "ann@corp.example", "ann@corp.example")
    ambiguous = admin.get(
        f"/organizations/{organizations[0].id}/users/lookup", params={"subject": "ann@corp.example"}
    )
    assert ambiguous.status_code == 409
    assert ann in ambiguous.json()["detail"] and twin in ambiguous.json()["detail"]
    assert _found(_lookup(admin, first.directory_id, subject="ann@corp.example")) == (
        twin,
        "subject",
    )
    unknown = admin.get("/organizations/no-such-org/users/lookup", params={"subject": "x"})
    assert unknown.status_code == 404


def test_another_organizations_user_is_never_returned(
    organizations: list[Organization], admin: httpx.Client
) -> None:
    mine, theirs = organizations[1], organizations[0]
    theirs_id = _create(
        theirs.directories[0], "ann@corp.example", "ann@corp.example", externalId="oid-ann"
    )
    keys = {"external_id": "oid-ann", "subject": "ann@corp.example", "email": "ann@corp.example"}

    assert admin.get(f"/organizations/{mine.id}/users/lookup", params=keys).status_code == 404
    assert _lookup(admin, mine.directories[0].directory_id, **keys).status_code == 404
    # Even when their user matches a stronger key, only my organization's user is found.
    own = _create(mine.directories[0], "a.lee@corp.example", "ann@corp.example")
    found = admin.get(f"/organizations/{mine.id}/users/lookup", params=keys)
    assert _found(found) == (own, "email")
    assert theirs_id not in found.text


def test_lookup_shows_the_state_and_confirms_nothing_to_drift(
    scim: DirectoryClient, admin: httpx.Client, live_server: LiveServer
) -> None:
    ann = _create(scim, "ann@corp.example", "ann@corp.example")
    deactivated = scim.http.patch(
        f"/Users/{ann}", json=patch({"op": "replace", "path": "active", "value": False})
    )
    assert deactivated.status_code == 200
    before = _confirmed_at(live_server, scim.directory_id, ann)

    found = _lookup(admin, scim.directory_id, subject="ann@corp.example")
    assert found.json()["user"]["state"] == "inactive"
    assert _confirmed_at(live_server, scim.directory_id, ann) == before


def _confirmed_at(server: LiveServer, directory_id: str, user_id: str) -> Any:
    with reading(server.engine) as conn:
        stored = USERS.get(conn, directory_id, user_id)
    assert stored is not None
    return stored.confirmed_at


def test_a_user_outside_the_assignment_group_is_inactive(
    scim: DirectoryClient, admin: httpx.Client, live_server: LiveServer
) -> None:
    ann = _create(scim, "ann@corp.example", "ann@corp.example")
    bob = _create(scim, "bob@corp.example", "bob@corp.example")
    assert scim.http.post("/Groups", json=group("App users", [ann])).status_code == 201
    safety.set_assignment_group(live_server.engine, scim.directory_id, "App users")

    states = {
        name: _lookup(admin, scim.directory_id, subject=f"{name}@corp.example").json()["user"]
        for name in ("ann", "bob")
    }
    assert (states["ann"]["id"], states["ann"]["state"]) == (ann, "active")
    assert (states["bob"]["id"], states["bob"]["state"]) == (bob, "inactive")
