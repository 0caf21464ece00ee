"""Bearer tokens: high entropy, recognisable, stored only as a hash, revocable, rotatable."""

import base64
from pathlib import Path

import httpx
from sqlalchemy import Engine, select

from conftest import LiveServer, eventually, serving
from scimgate.service.administration import oauth_clients, tenants
from scimgate.service.provisioning import extension_schemas
from scimgate.store.tables.tenancy import scim_tokens


def test_token_is_prefixed_high_entropy_and_stored_hashed(engine: Engine) -> None:
    organization = tenants.create_organization(engine, "Hashing Inc")
    created = tenants.create_directory(engine, organization.id, "Entra")
    secret = created.token.secret
    assert secret.startswith("scimgate_")
    random_part = secret.removeprefix("scimgate_")
    assert len(base64.urlsafe_b64decode(random_part + "=")) * 8 >= 256
    with engine.connect() as conn:
        row = conn.execute(
            select(scim_tokens).where(scim_tokens.c.id == created.token.record.id)
        ).one()
    assert secret not in {str(value) for value in row._mapping.values()}
    assert row.hint == secret[: len(row.hint)]
    assert len(row.hint) < len(secret) // 3


def test_last_used_time_is_recorded(live_server: LiveServer) -> None:
    organization = tenants.create_organization(live_server.engine, "Usage Inc")
    created = tenants.create_directory(live_server.engine, organization.id, "Okta")
    assert tenants.list_tokens(live_server.engine, created.directory.id)[0].last_used_at is None
    response = httpx.get(
        f"{live_server.url}/scim/v2/{created.directory.id}/Users",
        headers={"Authorization": f"Bearer {created.token.secret}"},
    )
    assert response.status_code == 200
    # Written with the request's provisioning-log entry, after the answer.
    eventually(
        lambda: (
            tenants.list_tokens(live_server.engine, created.directory.id)[0].last_used_at
            is not None
        ),
        "the token's use was not recorded",
    )


def test_several_tokens_work_at_once_and_revocation_is_immediate(live_server: LiveServer) -> None:
    organization = tenants.create_organization(live_server.engine, "Rotation Inc")
    created = tenants.create_directory(live_server.engine, organization.id, "Okta")
    second = tenants.create_token(live_server.engine, created.directory.id, "rotation")
    url = f"{live_server.url}/scim/v2/{created.directory.id}/Users"

    def status(secret: str) -> int:
        return httpx.get(url, headers={"Authorization": f"Bearer {secret}"}).status_code

    assert status(created.token.secret) == 200
    assert status(second.secret) == 200
    assert tenants.revoke_token(live_server.engine, created.directory.id, created.token.record.id)
    assert status(created.token.secret) == 401
    assert status(second.secret) == 200


def test_every_process_refuses_a_revoked_token_at_once(
    live_server: LiveServer, database_url: str, tmp_path: Path
) -> None:
    """Each server process keeps the tokens it accepted in memory; a token revoked (or a
    directory changed) by anyone is refused (or seen) by every process at its next request."""
    engine = live_server.engine
    organization = tenants.create_organization(engine, "Two Servers Inc")
    created = tenants.create_directory(engine, organization.id, "Entra")
    directory_id = created.directory.id
    old = created.token.secret
    with serving(database_url, tmp_path / "other.log") as other_url:

        def status(server: str, secret: str, endpoint: str = "Users") -> int:
            url = f"{server}/scim/v2/{directory_id}/{endpoint}"
            return httpx.get(url, headers={"Authorization": f"Bearer {secret}"}).status_code

        for server in (live_server.url, other_url):  # both processes now know the token
            assert status(server, old) == 200
            assert status(server, old) == 200

        rotated = tenants.create_token(engine, directory_id, "rotated")
        assert tenants.revoke_token(engine, directory_id, created.token.record.id)
        for server in (live_server.url, other_url):
            assert status(server, old) == 401
            assert status(server, rotated.secret) == 200

        # A change to the directory's row reaches the directory each process keeps with the
        # token: here its extension schemas, which its /Schemas lists.
        definition = {
            "id": "urn:ietf:params:scim:schemas:extension:stamped:2.0:User",
            "name": "Stamped",
            "attributes": [{"name": "badge", "type": "string", "multiValued": False}],
        }
        extension_schemas.register(engine, directory_id, "User", definition)
        for server in (live_server.url, other_url):
            schemas = httpx.get(
                f"{server}/scim/v2/{directory_id}/Schemas",
                headers={"Authorization": f"Bearer {rotated.secret}"},
            )
            assert schemas.status_code == 200
            assert definition["id"] in [each["id"] for each in schemas.json()["Resources"]]

        # An OAuth client's access token, known to both processes, is refused by both once
        # the client is revoked (by a tool beside them: the credential stamp tells them).
        client = oauth_clients.create_client(engine, directory_id, "entra")
        access = oauth_clients.issue_access_token(engine, client.client)
        assert access is not None
        for server in (live_server.url, other_url):
            assert status(server, access.secret) == 200
        assert oauth_clients.revoke_client(engine, directory_id, client.client.id)
        for server in (live_server.url, other_url):
            assert status(server, access.secret) == 401
            assert status(server, rotated.secret) == 200
