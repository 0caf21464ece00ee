"""The app cannot tell a pulled directory from a pushed one: the same person, pushed by Entra ID
over SCIM and pulled from Google Workspace, reads the same through the management API and
the events it was announced by."""

import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conftest import DirectoryClient, LiveServer
from event_support import published
from scimgate.config import GoogleSettings
from scimgate.service.administration import google_directories, tenants
from scimgate.service.administration.google_directories import ConnectionRequest
from scimgate.service.directory_sync.google_api import SCOPES
from scimgate.simulator.dialects import ADSCIM, ENTERPRISE, GROUP, Entra
from scimgate.simulator.google_workspace import FakeGoogle, serving_workspace
from scimgate.simulator.population import Person, Team

ADMIN = "admin@example.com"
IDS = ("id", "idp_id", "raw")
"""What each source names in its own way: scimgate's id, the IdP's id, the raw document."""


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    with serving_workspace() as served:
        served.workspace.add_user(ADMIN, "Ada", "Admin", is_admin=True)
        yield served


def _person(key: str, given: str, family: str, title: str) -> Person:
    return Person(
        key=key,
        given_name=given,
        family_name=family,
        user_name=f"{given}.{family}@example.com".lower(),
        title=title,
        department="Engineering",
        manager=None,
    )


def _pushed(scim: DirectoryClient, people: list[Person], team: Team) -> dict[str, str]:
    """Entra ID's requests for these people (the last managed by the first) and their team."""
    dialect = Entra()
    ids = {}
    for person in people:
        answer = scim.http.post("/Users", json=dialect.user_body(person, "example.com"))
        assert answer.status_code == 201, answer.text
        ids[person.user_name] = answer.json()["id"]
    manager = {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": ids[people[0].user_name]}
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [manager]}
    answered = scim.http.patch(f"/Users/{ids[people[-1].user_name]}", json=body)
    assert answered.status_code in (200, 204), answered.text
    entra_group = {
        "schemas": [GROUP, ADSCIM],
        "externalId": team.key,
        "displayName": team.display_name,
        "meta": {"resourceType": "Group"},
    }
    group = scim.http.post("/Groups", json=entra_group)
    assert group.status_code == 201, group.text
    member = {"op": "Add", "path": "members", "value": [{"value": ids[people[-1].user_name]}]}
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [member]}
    assert scim.http.patch(f"/Groups/{group.json()['id']}", json=body).status_code in (200, 204)
    return ids


def _comparable(view: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """A normalized user without what each source names its own way: the manager and the
    groups by name instead of by id."""
    found = {key: value for key, value in view.items() if key not in IDS}
    found["manager_id"] = names.get(view["manager_id"] or "")
    found["groups"] = sorted(group["name"] for group in view["groups"])
    return found


def _views(admin: httpx.Client, directory_id: str) -> dict[str, dict[str, Any]]:
    answer = admin.get(f"/directories/{directory_id}/users")
    assert answer.status_code == 200, answer.text
    users = answer.json()["users"]
    names = {user["id"]: user["username"] for user in users}
    return {user["username"]: _comparable(user, names) for user in users}


def test_the_same_people_pulled_from_google_read_as_if_entra_pushed_them(
    live_server: LiveServer, scim: DirectoryClient, admin: httpx.Client, google: FakeGoogle
) -> None:
    people = [
        _person("m-1", "Grace", "Hopper", "CTO"),
        _person("e-2", "Alan", "Turing", "Engineer"),
    ]
    team = Team(key="t-1", display_name="Engineering")
    _pushed(scim, people, team)

    workspace = google.workspace
    for index, person in enumerate(people):
        workspace.add_user(
            person.user_name,
            person.given_name,
            person.family_name,
            org_unit_path="/People",
            title=person.title,
            department=person.department,
            manager=people[0].user_name if index else "",
        )
    group = workspace.add_group("engineering", team.display_name)
    workspace.add_member(group["id"], people[-1].user_name)
    key = workspace.service_account_key()
    workspace.grant_delegation(key["client_id"], SCOPES)
    organization = tenants.create_organization(live_server.engine, f"org {secrets.token_hex(3)}")
    settings = GoogleSettings(api_url=google.url, token_url=google.token_uri)
    pulled, _ = google_directories.create_google_directory(
        live_server.engine,
        settings,
        organization.id,
        "Google",
        ConnectionRequest(admin_email=ADMIN, key=key),
    )
    assert google_directories.sync_here(live_server.engine, settings, pulled.id).error is None

    from_entra = _views(admin, scim.directory_id)
    from_google = _views(admin, pulled.id)
    for person in people:
        assert from_google[person.user_name] == from_entra[person.user_name]
    # The events that announced them hold the same people too.
    created = {
        source: {
            event.data["user"]["username"]: {
                k: v
                for k, v in event.data["user"].items()
                if k not in (*IDS, "manager_id", "groups")
            }
            for event in published(live_server.engine, directory)
            if event.type == "user.created"
        }
        for source, directory in (("entra", scim.directory_id), ("google", pulled.id))
    }
    for person in people:
        assert created["google"][person.user_name] == created["entra"][person.user_name]
