"""The management API end to end: organizations, directories, tokens, mappings, roles, audit."""

import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest

import scim_payloads
from conftest import ADMIN_TOKEN, LiveServer, eventually, serving

UNKNOWN = "01900000-0000-7000-8000-000000000000"


def _scim(base_url: str, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
        timeout=30,
    )


def _audit(admin: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    answer = admin.get("/audit", params={"limit": 1000, **params})
    assert answer.status_code == 200, answer.text
    entries: list[dict[str, Any]] = answer.json()["data"]
    return entries


@pytest.fixture
def organization(admin: httpx.Client) -> dict[str, Any]:
    answer = admin.post("/organizations", json={"name": f"Acme {secrets.token_hex(3)}"})
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def test_a_directory_created_over_the_api_provisions(
    admin: httpx.Client, organization: dict[str, Any]
) -> None:
    created = admin.post(
        f"/organizations/{organization['id']}/directories",
        json={"name": "Entra", "idp": "entra"},
    )
    assert created.status_code == 201, created.text
    directory = created.json()["directory"]
    secret = created.json()["token"]["secret"]
    assert directory["idp"] == "entra" and directory["delivery"] == "live"
    assert directory["scim_base_url"].endswith(f"/scim/v2/{directory['id']}")

    with _scim(directory["scim_base_url"], secret) as scim:
        user = scim.post("/Users", json=scim_payloads.user("ada@example.com")).json()
        group = scim.post("/Groups", json=scim_payloads.group("Engineering", [user["id"]]))
        assert group.status_code == 201, group.text

    users = admin.get(f"/directories/{directory['id']}/users").json()["users"]
    assert [each["username"] for each in users] == ["ada@example.com"]
    detail = admin.get(f"/directories/{directory['id']}").json()
    assert (detail["users"], detail["groups"]) == (1, 1)
    # The token's use is written with the request's log entry, after the answer.
    eventually(
        lambda: admin.get(f"/directories/{directory['id']}").json()["last_request_at"] is not None,
        "the directory's last request was not recorded",
    )
    shown = admin.get(f"/organizations/{organization['id']}").json()
    assert [each["id"] for each in shown["directories"]] == [directory["id"]]
    listed = admin.get("/organizations").json()["data"]
    assert organization["id"] in {each["id"] for each in listed}
    assert directory["id"] in {each["id"] for each in admin.get("/directories").json()["data"]}

    # The assignment group, by display name; an unknown group is bad input.
    set_group = admin.patch(
        f"/directories/{directory['id']}", json={"assignment_group": "engineering"}
    )
    assert set_group.status_code == 200, set_group.text
    assert set_group.json()["assignment_group"] == group.json()["id"]
    unknown = admin.patch(f"/directories/{directory['id']}", json={"assignment_group": "Nobody"})
    assert unknown.status_code == 400 and "Nobody" in unknown.json()["detail"]
    cleared = admin.patch(f"/directories/{directory['id']}", json={"assignment_group": None})
    assert cleared.json()["assignment_group"] is None


def test_tokens_are_created_rotated_revoked_and_never_shown_again(
    admin: httpx.Client, organization: dict[str, Any]
) -> None:
    created = admin.post(
        f"/organizations/{organization['id']}/directories", json={"name": "Okta", "dry_run": True}
    ).json()
    directory = created["directory"]
    assert directory["delivery"] == "review"
    base = f"/directories/{directory['id']}/tokens"
    second = admin.post(base, json={"name": "second"})
    assert second.status_code == 201
    rotated = admin.post(f"{base}/rotate")
    assert rotated.status_code == 201
    first_secret = created["token"]["secret"]
    shown = [first_secret, second.json()["secret"], rotated.json()["secret"]]

    # Rotation schedules nothing: the old token stays valid until revoked.
    with _scim(directory["scim_base_url"], first_secret) as scim:
        assert scim.get("/Users").status_code == 200
        revoke = admin.post(f"{base}/{created['token']['token']['id']}/revoke")
        assert revoke.status_code == 204
        assert scim.get("/Users").status_code == 401
    with _scim(directory["scim_base_url"], rotated.json()["secret"]) as scim:
        assert scim.get("/Users").status_code == 200

    tokens = admin.get(base).json()["data"]
    assert [token["name"] for token in tokens][:2] == ["initial", "second"]
    assert tokens[0]["revoked_at"] is not None
    assert admin.post(f"{base}/{created['token']['token']['id']}/revoke").status_code == 404
    later = [
        admin.get(path).text
        for path in (
            base,
            f"/directories/{directory['id']}",
            "/directories",
            f"/organizations/{organization['id']}",
            "/audit",
        )
    ]
    assert not any(secret in text for secret in shown for text in later)


def test_mappings_and_role_rules(admin: httpx.Client, organization: dict[str, Any]) -> None:
    created = admin.post(
        f"/organizations/{organization['id']}/directories", json={"name": "dir"}
    ).json()
    directory_id = created["directory"]["id"]
    mapped = admin.put(f"/directories/{directory_id}/mappings/job", json={"path": "title"})
    assert mapped.status_code == 200, mapped.text
    assert mapped.json()["mappings"]["job"] == "title"
    bad_path = admin.put(f"/directories/{directory_id}/mappings/job", json={"path": "nope.x"})
    assert bad_path.status_code == 400
    bad_name = admin.put(f"/directories/{directory_id}/mappings/Bad-Name", json={"path": "title"})
    assert bad_name.status_code == 400
    assert admin.delete(f"/directories/{directory_id}/mappings/job").status_code == 204
    assert "job" not in admin.get(f"/directories/{directory_id}/mappings").json()["mappings"]
    assert admin.delete(f"/directories/{directory_id}/mappings/job").status_code == 404

    rule = admin.post(
        f"/directories/{directory_id}/roles",
        json={"kind": "group_name", "match": "Admins", "role": "admin", "priority": 1},
    )
    assert rule.status_code == 201, rule.text
    with _scim(
        f"{admin.base_url}".replace("/api/v1", f"/scim/v2/{directory_id}"),
        created["token"]["secret"],
    ) as scim:
        user = scim.post("/Users", json=scim_payloads.user("grace@example.com")).json()
        scim.post("/Groups", json=scim_payloads.group("admins", [user["id"]]))
    users = admin.get(f"/directories/{directory_id}/users").json()["users"]
    assert users[0]["roles"] == ["admin"]
    incomplete = admin.post(
        f"/directories/{directory_id}/roles", json={"kind": "group_name", "role": "x"}
    )
    assert incomplete.status_code == 400 and "group" in incomplete.json()["detail"]
    rules = admin.get(f"/directories/{directory_id}/roles").json()["data"]
    assert [each["id"] for each in rules] == [rule.json()["id"]]
    assert admin.delete(f"/directories/{directory_id}/roles/{rule.json()['id']}").status_code == 204
    assert admin.get(f"/directories/{directory_id}/users").json()["users"][0]["roles"] == []
    assert admin.delete(f"/directories/{directory_id}/roles/{rule.json()['id']}").status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"/organizations/{UNKNOWN}", None),
        ("POST", f"/organizations/{UNKNOWN}/directories", {"name": "x"}),
        ("GET", f"/directories/{UNKNOWN}", None),
        ("PATCH", f"/directories/{UNKNOWN}", {"assignment_group": None}),
        ("GET", f"/directories/{UNKNOWN}/tokens", None),
        ("POST", f"/directories/{UNKNOWN}/tokens", {"name": "x"}),
        ("POST", f"/directories/{UNKNOWN}/tokens/rotate", None),
        ("POST", f"/directories/{UNKNOWN}/tokens/{UNKNOWN}/revoke", None),
        ("GET", f"/directories/{UNKNOWN}/mappings", None),
        ("PUT", f"/directories/{UNKNOWN}/mappings/job", {"path": "title"}),
        ("GET", f"/directories/{UNKNOWN}/roles", None),
        ("POST", f"/directories/{UNKNOWN}/roles", {"kind": "default", "role": "x"}),
        ("POST", f"/keys/{UNKNOWN}/revoke", None),
    ],
)
def test_unknown_ids_are_404(
    admin: httpx.Client, method: str, path: str, body: dict[str, Any] | None
) -> None:
    answer = admin.request(method, path, json=body)
    assert answer.status_code == 404, answer.text
    assert answer.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


@pytest.mark.parametrize(
    "body",
    [{}, {"name": ""}, {"name": "   "}, {"name": "x" * 201}, {"name": "tab\there"}, {"name": 3}],
)
def test_bad_input_is_a_scim_400(admin: httpx.Client, body: dict[str, Any]) -> None:
    answer = admin.post("/organizations", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"].startswith("Invalid request: name: ")
    assert answer.json()["scimType"] == "invalidValue"


@pytest.mark.parametrize(
    ("method", "path", "body", "named"),
    [
        ("POST", "/organizations", {}, "name: Field required"),
        ("POST", "/organizations", [], "the body: must be a JSON object"),
        ("GET", "/events", {"after": "abc"}, "after: Input should be a valid integer"),
        ("GET", "/audit", {"limit": "1e20"}, "limit: Input should be"),
        ("POST", "/webhooks", {"url": 3}, "url: "),
    ],
)
def test_every_refused_field_is_named_with_its_rule(
    admin: httpx.Client, method: str, path: str, body: Any, named: str
) -> None:
    """One shape for the whole management API, whoever validated the request."""
    if method == "GET":
        answer = admin.get(path, params=body)
    else:
        answer = admin.request(method, path, json=body)
    assert answer.status_code == 400, answer.text
    refused = answer.json()
    assert refused["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert refused["scimType"] == "invalidValue"
    assert refused["detail"].startswith(f"Invalid request: {named}"), refused["detail"]


def test_several_refused_fields_are_all_named(admin: httpx.Client) -> None:
    answer = admin.get("/audit", params={"limit": "0", "since": "yesterday"})
    assert answer.status_code == 400, answer.text
    detail = answer.json()["detail"]
    assert "limit: " in detail and "since: " in detail and "; " in detail, detail


def test_the_document_declares_the_refusals_as_answered(live_server: LiveServer) -> None:
    document = httpx.get(f"{live_server.url}/openapi.json").json()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    error = document["components"]["schemas"]["Error"]
    assert {"schemas", "status", "scimType", "detail"} <= set(error["properties"])
    operation = document["paths"]["/api/v1/organizations"]["post"]
    assert "422" not in operation["responses"]
    for status in ("400", "401", "403"):
        declared = operation["responses"][status]["content"]["application/scim+json"]
        assert declared["schema"] == {"$ref": "#/components/schemas/Error"}


def test_every_change_is_audited_with_its_actor_and_outcome(
    live_server: LiveServer, admin: httpx.Client, organization: dict[str, Any]
) -> None:
    key = admin.post("/keys", json={"name": "terraform", "scope": "write"}).json()
    actor = f"{key['key']['id']} terraform"
    with httpx.Client(
        base_url=f"{live_server.url}/api/v1",
        headers={"Authorization": f"Bearer {key['secret']}"},
        timeout=30,
    ) as client:
        directory = client.post(
            f"/organizations/{organization['id']}/directories", json={"name": "audited"}
        ).json()["directory"]
        client.post(f"/directories/{directory['id']}/tokens", json={"name": "extra"})
        client.post(f"/directories/{directory['id']}/tokens/{UNKNOWN}/revoke")
        client.put(f"/directories/{directory['id']}/mappings/Bad-Name", json={"path": "title"})
        webhook = client.post(
            "/webhooks",
            json={"url": "https://example.com/hooks", "organization_id": organization["id"]},
        )
        assert webhook.status_code == 201, webhook.text
        client.get(f"/directories/{directory['id']}")  # reads are not audited

    entries = list(reversed(_audit(admin, actor=key["key"]["id"])))
    assert [(e["action"], e["outcome"]) for e in entries] == [
        ("POST /api/v1/organizations/{organization_id}/directories", "ok"),
        ("POST /api/v1/directories/{directory_id}/tokens", "ok"),
        ("POST /api/v1/directories/{directory_id}/tokens/{token_id}/revoke", "refused"),
        ("PUT /api/v1/directories/{directory_id}/mappings/{name}", "refused"),
        ("POST /api/v1/webhooks", "ok"),
    ]
    assert {entry["actor"] for entry in entries} == {actor}
    assert entries[0]["target_type"] == "directory"
    assert entries[0]["target_id"] == directory["id"]
    assert entries[2]["target_type"] == "token" and entries[2]["target_id"] == UNKNOWN
    assert entries[2]["detail"].startswith("404")
    assert all(e["organization_id"] == organization["id"] for e in entries[:4])
    for secret in (webhook.json()["secret"], key["secret"]):
        assert secret not in admin.get("/audit").text
        assert secret not in admin.get("/keys").text
    assert webhook.json()["secret"] not in admin.get("/webhooks").text

    by_org = _audit(admin, organization_id=organization["id"])
    assert by_org[-1]["action"] == "POST /api/v1/organizations"
    assert by_org[-1]["actor"] == "admin-token"
    assert by_org[-1]["target_id"] == organization["id"]
    created_key = _audit(admin, actor="admin-token")[0]
    assert created_key["action"] == "POST /api/v1/keys"
    assert created_key["target_id"] == key["key"]["id"]
    # The endpoint goes, so no worker of another test tries to reach it.
    assert admin.delete(f"/webhooks/{webhook.json()['id']}").status_code == 204


def test_the_audit_log_pages_newest_first(admin: httpx.Client) -> None:
    for index in range(3):
        admin.post("/organizations", json={"name": f"paged {index}"})
    first = admin.get("/audit", params={"limit": 2, "actor": "admin-token"}).json()
    assert len(first["data"]) == 2 and first["next_before"] is not None
    second = admin.get(
        "/audit", params={"limit": 2, "actor": "admin-token", "before": first["next_before"]}
    ).json()
    assert first["data"][0]["at"] >= first["data"][1]["at"] >= second["data"][0]["at"]
    assert not {e["id"] for e in first["data"]} & {e["id"] for e in second["data"]}
    future = admin.get("/audit", params={"since": "2999-01-01T00:00:00Z"}).json()
    assert future["data"] == []
    naive = admin.get("/audit", params={"since": "2020-01-01T00:00:00"})
    assert naive.status_code == 400


def test_the_admin_token_must_be_a_bearer(live_server: LiveServer) -> None:
    answer = httpx.get(
        f"{live_server.url}/api/v1/organizations", headers={"Authorization": ADMIN_TOKEN}
    )
    assert answer.status_code == 401


def test_a_body_that_is_not_json_is_refused_after_the_key(live_server: LiveServer) -> None:
    """Without a key, 401 before the body is read; with one, 400 saying the body is not JSON."""
    sent = {"Content-Type": "application/json"}
    url = f"{live_server.url}/api/v1/organizations"
    anonymous = httpx.post(url, content=b"{bad", headers=sent)
    assert anonymous.status_code == 401, anonymous.text
    keyed = httpx.post(
        url, content=b"{bad", headers={**sent, "Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert keyed.status_code == 400, keyed.text
    assert "the body is not JSON (at character 1)" in keyed.json()["detail"]


def test_a_public_url_ending_in_a_slash_gives_addresses_with_one(
    database_url: str, tmp_path: Path
) -> None:
    """Every address built on ``SCIMGATE_PUBLIC_URL`` has one slash after it, whichever edge."""
    public = "https://scim.example.com"
    with (
        serving(database_url, tmp_path / "server.log", SCIMGATE_PUBLIC_URL=f"{public}/") as url,
        httpx.Client(
            base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        ) as admin,
    ):
        organization = admin.post("/organizations", json={"name": "Slash"}).json()
        created = admin.post(
            f"/organizations/{organization['id']}/directories", json={"name": "Okta"}
        ).json()
        directory_id = created["directory"]["id"]
        base = f"{public}/scim/v2/{directory_id}"
        assert created["directory"]["scim_base_url"] == base
        with _scim(f"{url}/scim/v2/{directory_id}", created["token"]["secret"]) as scim:
            user = scim.post("/Users", json=scim_payloads.user("ada@example.com")).json()
            scim.post("/Groups", json=scim_payloads.group("Engineering", [user["id"]]))
        assert user["meta"]["location"] == f"{base}/Users/{user['id']}"
        link = admin.post(f"/organizations/{organization['id']}/setup-links", json={}).json()
        assert link["url"].startswith(f"{public}/setup/")
        assert admin.get(f"/directories/{directory_id}").json()["scim_base_url"] == base
        shown = admin.get(f"/organizations/{organization['id']}").json()
        assert [each["scim_base_url"] for each in shown["directories"]] == [base]
