"""What a client sends that is unusual but not wrong: accepted, and said where it matters.

An e-mail value that is not an address (RFC 7643 only says it SHOULD be one)
is kept, and flagged in the normalized view and the provisioning log. The
endpoints are answered in any case, as other SCIM servers answer them.
"""

import secrets
import time
from typing import Any

import httpx
import pytest

from conftest import DirectoryClient
from scim_payloads import BULK_SCHEMA, GROUP_SCHEMA, SEARCH_SCHEMA, patch, user
from scimgate.api.endpoint_case import canonical_path


def _logged(admin: httpx.Client, directory_id: str, method: str) -> dict[str, Any]:
    """The directory's latest log entry for ``method``, once it is written."""
    deadline = time.monotonic() + 10
    while True:
        entries = admin.get(f"/directories/{directory_id}/logs", params={"limit": 50}).json()
        found = [entry for entry in entries["data"] if entry["method"] == method]
        if found or time.monotonic() > deadline:
            assert found, entries
            return dict(found[0])
        time.sleep(0.05)


NOT_ADDRESSES = ["Ann Smith", "ann", "ann@", "@example.com", "ann at example dot com", "a b@c.d"]


@pytest.mark.parametrize("value", NOT_ADDRESSES)
def test_an_email_value_that_is_not_an_address_is_kept_and_flagged(
    scim: DirectoryClient, admin: httpx.Client, value: str
) -> None:
    emails = [{"type": "work", "value": value, "primary": True}]
    created = scim.http.post("/Users", json=user(f"u{secrets.token_hex(4)}", emails=emails))
    assert created.status_code == 201, created.text
    assert created.json()["emails"][0]["value"] == value
    normalized = admin.get(f"/directories/{scim.directory_id}/users/{created.json()['id']}")
    assert normalized.status_code == 200, normalized.text
    assert normalized.json()["emails"] == [value]
    assert normalized.json()["undeliverable_emails"] == [value]
    entry = _logged(admin, scim.directory_id, "POST")
    assert entry["status"] == 201
    assert "not an e-mail address" in entry["diagnosis"] and repr(value) in entry["diagnosis"]


@pytest.mark.parametrize("how", ["PUT", "PATCH path", "PATCH filtered path", "PATCH no path"])
def test_every_write_accepts_a_bare_name_as_an_email(scim: DirectoryClient, how: str) -> None:
    created = scim.http.post("/Users", json=user(f"u{secrets.token_hex(4)}"))
    location = f"/Users/{created.json()['id']}"
    emails = [{"type": "work", "value": "Ann Smith"}]
    if how == "PUT":
        answer = scim.http.put(location, json=user(created.json()["userName"], emails=emails))
    elif how == "PATCH path":
        answer = scim.http.patch(
            location, json=patch({"op": "add", "path": "emails", "value": emails})
        )
    elif how == "PATCH filtered path":
        answer = scim.http.patch(
            location,
            json=patch({"op": "add", "path": 'emails[type eq "work"].value', "value": "Ann Smith"}),
        )
    else:
        answer = scim.http.patch(
            location, json=patch({"op": "replace", "value": {"emails": emails}})
        )
    assert answer.status_code == 200, answer.text
    assert [each["value"] for each in answer.json()["emails"]] == ["Ann Smith"]


def test_addresses_are_still_normalized_and_not_flagged(
    scim: DirectoryClient, admin: httpx.Client
) -> None:
    emails = [{"value": "Ann@EXAMPLE.com"}, {"value": "bob@corp.local"}]
    created = scim.http.post("/Users", json=user(f"u{secrets.token_hex(4)}", emails=emails))
    assert created.status_code == 201, created.text
    assert [e["value"] for e in created.json()["emails"]] == ["Ann@example.com", "bob@corp.local"]
    normalized = admin.get(f"/directories/{scim.directory_id}/users/{created.json()['id']}")
    assert normalized.json()["undeliverable_emails"] == []
    assert _logged(admin, scim.directory_id, "POST")["diagnosis"] is None


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_email_value_is_still_refused(scim: DirectoryClient, value: str) -> None:
    emails = [{"type": "work", "value": value}]
    answer = scim.http.post("/Users", json=user(f"u{secrets.token_hex(4)}", emails=emails))
    assert answer.status_code == 400, answer.text
    assert answer.json()["scimType"] == "invalidValue"
    assert "emails" in answer.json()["detail"]


# Endpoints in any case


def _spellings(name: str) -> list[str]:
    return [name.lower(), name.upper()]


@pytest.mark.parametrize("users", _spellings("Users"))
def test_users_endpoints_in_any_case(scim: DirectoryClient, users: str) -> None:
    created = scim.http.post(f"/{users}", json=user(f"u{secrets.token_hex(4)}"))
    assert created.status_code == 201, created.text
    id_ = created.json()["id"]
    assert created.json()["meta"]["location"].endswith(f"/Users/{id_}")
    assert scim.http.get(f"/{users}/{id_}").status_code == 200
    assert scim.http.get(f"/{users}").json()["totalResults"] == 1
    searched = scim.http.post(f"/{users}/.SEARCH", json={"schemas": [SEARCH_SCHEMA]})
    assert searched.status_code == 200, searched.text
    patched = scim.http.patch(
        f"/{users}/{id_}", json=patch({"op": "replace", "path": "title", "value": "T"})
    )
    assert patched.status_code == 200, patched.text
    replaced = scim.http.put(f"/{users}/{id_}", json=user(created.json()["userName"]))
    assert replaced.status_code == 200, replaced.text
    assert scim.http.delete(f"/{users}/{id_}").status_code == 204


@pytest.mark.parametrize("groups", _spellings("Groups"))
def test_groups_endpoints_in_any_case(scim: DirectoryClient, groups: str) -> None:
    created = scim.http.post(f"/{groups}", json={"schemas": [GROUP_SCHEMA], "displayName": "g"})
    assert created.status_code == 201, created.text
    id_ = created.json()["id"]
    assert scim.http.get(f"/{groups}/{id_}").status_code == 200
    assert scim.http.post(f"/{groups}/.search", json={"schemas": [SEARCH_SCHEMA]}).is_success
    assert scim.http.delete(f"/{groups}/{id_}").status_code == 204


@pytest.mark.parametrize(
    "path",
    [
        *_spellings("ServiceProviderConfig"),
        *_spellings("Schemas"),
        *_spellings("ResourceTypes"),
        "/resourcetypes/User",
        "/schemas/urn:ietf:params:scim:schemas:core:2.0:User",
    ],
)
def test_discovery_endpoints_in_any_case(scim: DirectoryClient, path: str) -> None:
    answer = scim.http.get(path if path.startswith("/") else f"/{path}")
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("bulk", ["bulk", "BULK"])
def test_bulk_and_root_search_in_any_case(scim: DirectoryClient, bulk: str) -> None:
    operation = {"method": "POST", "path": "/Users", "bulkId": "a", "data": user("bulked")}
    answer = scim.http.post(f"/{bulk}", json={"schemas": [BULK_SCHEMA], "Operations": [operation]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["Operations"][0]["status"] == "201"
    searched = scim.http.post("/.SEARCH", json={"schemas": [SEARCH_SCHEMA]})
    assert searched.status_code == 200, searched.text


def test_an_unknown_endpoint_is_still_404(scim: DirectoryClient) -> None:
    assert scim.http.get("/Userz").status_code == 404


def test_the_log_names_the_resource_whatever_the_case(
    scim: DirectoryClient, admin: httpx.Client
) -> None:
    created = scim.http.post("/users", json=user(f"u{secrets.token_hex(4)}"))
    entry = _logged(admin, scim.directory_id, "POST")
    assert entry["resource_type"] == "User" and entry["resource_id"] == created.json()["id"]
    assert entry["path"].endswith("/users")


def test_only_the_endpoint_segment_changes_case() -> None:
    base = "/scim/v2/dIr-Id"
    assert canonical_path(f"{base}/users/AbC") == f"{base}/Users/AbC"
    assert canonical_path(f"{base}/GROUPS/.SEARCH") == f"{base}/Groups/.search"
    assert canonical_path(f"{base}/schemas/URN:x") == f"{base}/Schemas/URN:x"
    assert canonical_path(f"{base}/Pets/users") == f"{base}/Pets/users"
    assert canonical_path("/api/v1/directories/x/users") == "/api/v1/directories/x/users"
