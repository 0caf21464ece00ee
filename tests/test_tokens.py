"""Bearer tokens: high entropy, recognisable, stored only as a hash, revocable, rotatable."""

import base64

import httpx
from sqlalchemy import Engine, select

from conftest import LiveServer
from scimgate.service import tenants
from scimgate.store.tables import scim_tokens


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
    assert tenants.list_tokens(live_server.engine, created.directory.id)[0].last_used_at is not None


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
