"""OAuth 2.0 client credentials for SCIM (RFC 6749 §4.4): a standard client library obtains
an access token at ``/oauth/token`` and provisions with it; static tokens keep working; a
token that is expired, revoked, of another directory or tampered with gets a 401 whose
``WWW-Authenticate`` says why (RFC 6750 §3.1).

Over HTTP, against the live server, with Authlib's httpx client: what an IdP's OAuth
stack does.
"""

import json
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from authlib.integrations.httpx_client import OAuthError as ClientOAuthError
from sqlalchemy import update
from typer.testing import CliRunner

from conftest import DirectoryClient, LiveServer, new_directory
from scim_payloads import user as new_user
from scimgate.cli.main import app
from scimgate.service.administration.oauth_clients import LIVE_TOKENS
from scimgate.store.ids import utcnow
from scimgate.store.tables.tenancy import scim_tokens


@pytest.fixture
def client(admin: httpx.Client, scim: DirectoryClient) -> dict[str, Any]:
    """A new OAuth client of the test's directory, as the management API shows it once."""
    answer = admin.post(f"/directories/{scim.directory_id}/oauth-clients", json={"name": "idp"})
    assert answer.status_code == 201, answer.text
    issued: dict[str, Any] = answer.json()
    return issued


def _oauth(issued: dict[str, Any], method: str = "client_secret_basic") -> OAuth2Client:
    return OAuth2Client(
        client_id=issued["client_id"],
        client_secret=issued["client_secret"],
        token_endpoint_auth_method=method,
        timeout=30,
    )


def _token(issued: dict[str, Any], method: str = "client_secret_basic") -> str:
    with _oauth(issued, method) as session:
        token = session.fetch_token(issued["token_endpoint"], grant_type="client_credentials")
    return str(token["access_token"])


def _get(scim: DirectoryClient, access_token: str) -> httpx.Response:
    """The directory's users, asked with an access token."""
    return httpx.get(
        f"{scim.base_url}/Users", headers={"Authorization": f"Bearer {access_token}"}, timeout=30
    )


def _refusal(answer: httpx.Response) -> str:
    """A 401's ``WWW-Authenticate``, which must name the invalid token."""
    assert answer.status_code == 401, answer.text
    challenge = answer.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="scimgate", error="invalid_token"'), challenge
    return challenge


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_a_standard_client_obtains_a_token_and_provisions_with_it(
    scim: DirectoryClient, client: dict[str, Any], method: str
) -> None:
    with _oauth(client, method) as session:
        token = session.fetch_token(client["token_endpoint"], grant_type="client_credentials")
        assert token["token_type"] == "Bearer"
        assert token["expires_in"] == 3600
        assert "refresh_token" not in token
        # The library puts the access token on each request itself, as an IdP's stack does.
        user = new_user("oauth.person@example.com")
        created = session.post(
            f"{scim.base_url}/Users", json=user, headers={"Content-Type": "application/scim+json"}
        )
        assert created.status_code == 201, created.text
        found = session.get(
            f"{scim.base_url}/Users", params={"filter": 'userName eq "oauth.person@example.com"'}
        )
        assert found.status_code == 200
        assert found.json()["totalResults"] == 1
    # The directory's static token still opens it, and sees the same user.
    assert scim.http.get(f"/Users/{created.json()['id']}").status_code == 200


def test_the_token_answer_is_not_cached_and_its_tokens_are_not_listed(
    admin: httpx.Client, scim: DirectoryClient, client: dict[str, Any]
) -> None:
    answer = httpx.post(
        client["token_endpoint"],
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    # The directory's own token only: access tokens come and go with their client.
    tokens = admin.get(f"/directories/{scim.directory_id}/tokens").json()["data"]
    assert len(tokens) == 1 and "OAuth" not in tokens[0]["name"]
    clients = admin.get(f"/directories/{scim.directory_id}/oauth-clients").json()["data"]
    assert [each["id"] for each in clients] == [client["client_id"]]
    assert client["client_secret"] not in answer.text + str(clients)
    assert set(clients[0]) == set(client["client"])


def test_an_expired_access_token_is_refused_saying_so(
    live_server: LiveServer, scim: DirectoryClient, client: dict[str, Any]
) -> None:
    token = _token(client)
    with live_server.engine.begin() as conn:  # an hour passes for this token
        conn.execute(
            update(scim_tokens)
            .where(scim_tokens.c.oauth_client_id == client["client_id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert "expired" in _refusal(_get(scim, token))
    # A new token, obtained as the client does when its token expires, works.
    assert _get(scim, _token(client)).status_code == 200


def test_revoking_the_client_refuses_its_tokens_and_its_secret_at_once(
    admin: httpx.Client, scim: DirectoryClient, client: dict[str, Any]
) -> None:
    token = _token(client)
    assert _get(scim, token).status_code == 200  # now known to the server process
    revoked = admin.post(
        f"/directories/{scim.directory_id}/oauth-clients/{client['client_id']}/revoke"
    )
    assert revoked.status_code == 204, revoked.text
    assert "revoked" in _refusal(_get(scim, token))
    with pytest.raises(ClientOAuthError, match="invalid_client"):
        _token(client)
    again = admin.post(
        f"/directories/{scim.directory_id}/oauth-clients/{client['client_id']}/revoke"
    )
    assert again.status_code == 404
    assert scim.http.get("/Users").status_code == 200  # the static token is untouched


def test_rotating_the_secret_refuses_the_old_secret_and_its_tokens(
    admin: httpx.Client, scim: DirectoryClient, client: dict[str, Any]
) -> None:
    token = _token(client)
    assert _get(scim, token).status_code == 200
    rotated = admin.post(
        f"/directories/{scim.directory_id}/oauth-clients/{client['client_id']}/rotate"
    )
    assert rotated.status_code == 201, rotated.text
    renewed = rotated.json()
    assert renewed["client_id"] == client["client_id"]
    assert renewed["client_secret"] != client["client_secret"]
    assert "revoked" in _refusal(_get(scim, token))
    with pytest.raises(ClientOAuthError, match="invalid_client"):
        _token(client)
    assert _get(scim, _token(renewed, "client_secret_post")).status_code == 200


def test_an_access_token_of_another_directory_is_refused_saying_so(
    live_server: LiveServer, scim: DirectoryClient, client: dict[str, Any]
) -> None:
    other = new_directory(live_server, "other")
    try:
        challenge = _refusal(_get(other, _token(client)))
        assert "another directory" in challenge
    finally:
        other.http.close()


def test_a_tampered_access_token_is_refused(scim: DirectoryClient, client: dict[str, Any]) -> None:
    token = _token(client)
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert "not valid" in _refusal(_get(scim, tampered))
    assert _get(scim, token).status_code == 200


def _token_answer(endpoint: str, **kwargs: object) -> httpx.Response:
    answer = httpx.post(endpoint, timeout=30, **kwargs)  # type: ignore[arg-type]
    assert answer.headers.get("cache-control") == "no-store", answer.headers
    return answer


def test_the_token_endpoint_refuses_as_rfc_6749_says(client: dict[str, Any]) -> None:
    endpoint, client_id = client["token_endpoint"], client["client_id"]
    good = (client_id, client["client_secret"])
    wrong_secret = _token_answer(
        endpoint, data={"grant_type": "client_credentials"}, auth=(client_id, "nope")
    )
    assert wrong_secret.status_code == 401
    assert wrong_secret.json()["error"] == "invalid_client"
    assert wrong_secret.headers["www-authenticate"].startswith("Basic")
    unknown = _token_answer(
        endpoint, data={"grant_type": "client_credentials"}, auth=("no-such-client", "nope")
    )
    assert (unknown.status_code, unknown.json()["error"]) == (401, "invalid_client")
    anonymous = _token_answer(endpoint, data={"grant_type": "client_credentials"})
    assert anonymous.json()["error"] == "invalid_client"
    assert anonymous.status_code in (400, 401)
    other_grant = _token_answer(endpoint, data={"grant_type": "password"}, auth=good)
    assert (other_grant.status_code, other_grant.json()["error"]) == (
        400,
        "unsupported_grant_type",
    )
    no_grant = _token_answer(endpoint, data={}, auth=good)
    assert no_grant.status_code == 400
    assert no_grant.json()["error"] in ("invalid_request", "unsupported_grant_type")
    twice = _token_answer(
        endpoint,
        content=b"grant_type=client_credentials&grant_type=client_credentials",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=good,
    )
    assert (twice.status_code, twice.json()["error"]) == (400, "invalid_request")
    assert (
        _token_answer(endpoint, data={"grant_type": "client_credentials"}, auth=good).status_code
        == 200
    )


def test_clients_of_an_unknown_directory_or_client_are_404(
    admin: httpx.Client, scim: DirectoryClient
) -> None:
    assert admin.post("/directories/no-such/oauth-clients", json={"name": "x"}).status_code == 404
    assert admin.get("/directories/no-such/oauth-clients").status_code == 404
    missing = admin.post(f"/directories/{scim.directory_id}/oauth-clients/nope/rotate")
    assert missing.status_code == 404


def test_the_command_line_creates_rotates_lists_and_revokes_clients(
    database_url: str, scim: DirectoryClient
) -> None:
    """The secret the CLI shows obtains tokens at the live server; a rotation stops it."""
    runner = CliRunner()
    where = ["--database-url", database_url]

    def run(*arguments: str) -> str:
        result = runner.invoke(app, [*arguments, *where])
        assert result.exit_code == 0, result.output
        return result.output

    def shown(output: str) -> dict[str, Any]:
        found = dict(re.findall(r"(Client id|Client secret|Token endpoint):\s+(\S+)", output))
        endpoint = scim.base_url.split("/scim/v2/")[0] + "/oauth/token"
        return {
            "client_id": found["Client id"],
            "client_secret": found["Client secret"],
            "token_endpoint": endpoint,  # the live server's port, not the CLI's default
        }

    issued = shown(run("oauth-clients", "create", scim.directory_id, "--name", "ping"))
    assert _get(scim, _token(issued)).status_code == 200
    rotated = shown(run("oauth-clients", "rotate", scim.directory_id, issued["client_id"]))
    with pytest.raises(ClientOAuthError, match="invalid_client"):
        _token(issued)
    assert _get(scim, _token(rotated, "client_secret_post")).status_code == 200
    listed = json.loads(run("oauth-clients", "list", scim.directory_id, "--json"))
    assert [(each["id"], each["name"]) for each in listed] == [(issued["client_id"], "ping")]
    assert listed[0]["rotated_at"] and not listed[0]["revoked_at"]
    run("oauth-clients", "revoke", scim.directory_id, issued["client_id"])
    again = runner.invoke(
        app, ["oauth-clients", "revoke", scim.directory_id, issued["client_id"], *where]
    )
    assert again.exit_code == 2 and "No such active OAuth client" in again.output


def test_a_client_holds_at_most_a_bounded_number_of_live_tokens(
    scim: DirectoryClient, client: dict[str, Any]
) -> None:
    """A client that asks for a token per request cannot fill the table: the oldest go."""
    first = _token(client)
    assert _get(scim, first).status_code == 200
    later = [_token(client) for _ in range(LIVE_TOKENS)]
    assert "revoked" in _refusal(_get(scim, first))
    assert all(_get(scim, each).status_code == 200 for each in later)
