"""The fake Google Workspace answers real clients as Google does.

google-auth's service account credentials (domain-wide delegation) get their tokens from its
token endpoint; Authlib goes through its consent flow (OAuth 2.0 for web server applications)
and google-auth refreshes the refresh token it gave; and httpx reads its Directory API as the
Google sync will: pages, queries, groups and members, errors, injected quota failures and push
notifications.
"""

import base64
import json
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client, OAuthError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request
from google.oauth2 import service_account
from google.oauth2.credentials import Credentials as UserCredentials
from joserfc import jwt
from joserfc.jwk import KeySet

from scimgate.simulator.google_workspace import (
    GOOGLE_TOKEN_URI,
    GROUP_READONLY_SCOPE,
    JWT_BEARER,
    MEMBER_READONLY_SCOPE,
    USER_READONLY_SCOPE,
    FakeGoogle,
    Workspace,
    serving_workspace,
)

ADMIN = "admin@example.com"
READ_SCOPES = (USER_READONLY_SCOPE, GROUP_READONLY_SCOPE, MEMBER_READONLY_SCOPE)
MY_CUSTOMER = {"customer": "my_customer"}
WAIT = 5.0
"""Seconds to wait for a notification; never reached unless something is broken."""


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    """A served workspace of one user, its admin."""
    workspace = Workspace()
    workspace.add_user(ADMIN, "Ada", "Admin", is_admin=True)
    with serving_workspace(workspace) as served:
        yield served


def credentials(
    key: dict[str, str], scopes: Sequence[str] = READ_SCOPES, subject: str | None = ADMIN
) -> service_account.Credentials:
    """What the sync makes of a key: a service account acting for ``subject``."""
    made: service_account.Credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
        key, scopes=list(scopes), subject=subject
    )
    return made


def refreshed(made: service_account.Credentials | UserCredentials) -> str:
    """The access token google-auth gets for the credentials, as the sync will get it."""
    made.refresh(Request())  # type: ignore[no-untyped-call]
    token = made.token
    assert isinstance(token, str)
    return token


def delegated_token(
    google: FakeGoogle, scopes: Sequence[str] = READ_SCOPES, subject: str = ADMIN
) -> str:
    """An access token got by google-auth, the read scopes delegated to its key's client."""
    key = google.workspace.service_account_key()
    google.workspace.grant_delegation(key["client_id"], READ_SCOPES)
    return refreshed(credentials(key, scopes, subject))


@contextmanager
def directory(google: FakeGoogle, token: str) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=google.directory_url, headers=headers, timeout=10) as client:
        yield client


def pages(client: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every page of a list, following ``nextPageToken`` as a client does."""
    found: list[dict[str, Any]] = []
    while True:
        answer = client.get(path, params=params)
        assert answer.status_code == 200, answer.text
        found.append(answer.json())
        if "nextPageToken" not in found[-1]:
            return found
        params["pageToken"] = found[-1]["nextPageToken"]


def error_of(answer: httpx.Response) -> dict[str, Any]:
    """Google's error body, checked for its shape."""
    error: dict[str, Any] = answer.json()["error"]
    assert error["code"] == answer.status_code
    assert set(error) >= {"code", "message", "errors", "status"}
    assert set(error["errors"][0]) >= {"message", "domain", "reason"}
    return error


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def assertion(key: dict[str, str], **claims: Any) -> str:
    """A JWT bearer assertion signed with a key, as google-auth makes it; a claim given as
    ``None`` is left out."""
    private = serialization.load_pem_private_key(key["private_key"].encode(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    now = int(time.time())
    payload = {
        "iat": now,
        "exp": now + 3600,
        "iss": key["client_email"],
        "aud": GOOGLE_TOKEN_URI,
        "scope": USER_READONLY_SCOPE,
        "sub": ADMIN,
    }
    payload = {name: value for name, value in (payload | claims).items() if value is not None}
    header = {"alg": "RS256", "typ": "JWT", "kid": key["private_key_id"]}
    signed = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = private.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signed}.{b64(signature)}"


# Tokens


def test_google_auth_gets_a_token_by_domain_wide_delegation(google: FakeGoogle) -> None:
    workspace = google.workspace
    key = workspace.service_account_key()
    assert set(key) == {
        "type",
        "project_id",
        "private_key_id",
        "private_key",
        "client_email",
        "client_id",
        "auth_uri",
        "token_uri",
        "auth_provider_x509_cert_url",
        "client_x509_cert_url",
        "universe_domain",
    }
    assert key["type"] == "service_account"
    assert key["token_uri"] == google.token_uri
    assert key["client_id"].isdigit()
    assert key["private_key"].startswith("-----BEGIN PRIVATE KEY-----\n")
    workspace.grant_delegation(key["client_id"], READ_SCOPES)

    made = credentials(key)
    token = refreshed(made)

    assert token.startswith("ya29.")
    assert made.expiry is not None
    assert made.expiry.timestamp() > time.time() + 3000
    assert workspace.token_requests == 1
    [issued] = workspace.issued_tokens
    assert issued.subject == ADMIN
    assert issued.client_email == key["client_email"]
    assert issued.scopes == frozenset(READ_SCOPES)
    with directory(google, token) as client:
        answer = client.get("/users", params=MY_CUSTOMER)
    assert answer.status_code == 200
    assert [user["primaryEmail"] for user in answer.json()["users"]] == [ADMIN]
    assert workspace.admins == {ADMIN}


def test_a_client_without_delegation_or_a_scope_of_it_is_unauthorized(google: FakeGoogle) -> None:
    key = google.workspace.service_account_key()
    with pytest.raises(RefreshError, match="unauthorized_client: Client is unauthorized"):
        refreshed(credentials(key))

    google.workspace.grant_delegation(key["client_id"], [USER_READONLY_SCOPE])
    with pytest.raises(RefreshError, match="unauthorized_client"):
        refreshed(credentials(key, [USER_READONLY_SCOPE, GROUP_READONLY_SCOPE]))
    assert refreshed(credentials(key, [USER_READONLY_SCOPE]))

    google.workspace.revoke_delegation(key["client_id"])
    with pytest.raises(RefreshError, match="unauthorized_client"):
        refreshed(credentials(key, [USER_READONLY_SCOPE]))
    # google-auth does not retry these: each was one request.
    assert google.workspace.token_requests == 4


def test_the_subject_must_be_an_active_user_and_an_admin_to_read(google: FakeGoogle) -> None:
    workspace = google.workspace
    workspace.add_user("bob", "Bob", "Builder")
    workspace.add_user("gone", "Gone", "Away", is_admin=True, suspended=True)
    key = workspace.service_account_key()
    workspace.grant_delegation(key["client_id"], READ_SCOPES)

    for subject in ("nobody@example.com", "gone@example.com"):
        with pytest.raises(RefreshError, match="invalid_grant: Invalid email or User ID"):
            refreshed(credentials(key, subject=subject))

    # As at Google, a user who is no admin gets a token, which the API refuses.
    with directory(google, refreshed(credentials(key, subject="bob@example.com"))) as client:
        answer = client.get("/users", params=MY_CUSTOMER)
    assert answer.status_code == 403
    error = error_of(answer)
    assert error["message"] == "Not Authorized to access this resource/api"
    assert error["errors"][0]["reason"] == "forbidden"


def test_only_keys_the_fake_issued_sign_assertions(google: FakeGoogle) -> None:
    workspace = google.workspace
    key = workspace.service_account_key()
    workspace.grant_delegation(key["client_id"], READ_SCOPES)
    foreign = Workspace().service_account_key() | {"token_uri": google.token_uri}
    forged = key | {"private_key": foreign["private_key"]}

    for bad in (foreign, forged):
        with pytest.raises(RefreshError, match=r"invalid_grant: Invalid JWT Signature\."):
            refreshed(credentials(bad))
    workspace.revoke_key(key["private_key_id"])
    with pytest.raises(RefreshError, match="Invalid JWT Signature"):
        refreshed(credentials(key))


def test_assertions_are_checked_as_google_checks_them(google: FakeGoogle) -> None:
    key = google.workspace.service_account_key()
    google.workspace.grant_delegation(key["client_id"], READ_SCOPES)
    now = int(time.time())

    def exchange(grant: str, grant_type: str = JWT_BEARER) -> httpx.Response:
        form = {"grant_type": grant_type, "assertion": grant}
        return httpx.post(google.token_uri, data=form, timeout=10)

    # The fake's own token URI is an audience too.
    answer = exchange(assertion(key, aud=google.token_uri))
    assert answer.status_code == 200
    assert answer.json()["expires_in"] == 3599
    assert answer.json()["token_type"] == "Bearer"

    refused = {
        "audience": (assertion(key, aud="https://example.com/token"), "invalid_grant"),
        "long-lived": (assertion(key, iat=now, exp=now + 7200), "invalid_grant"),
        "expired": (assertion(key, iat=now - 4000, exp=now - 400), "invalid_grant"),
        "no scope": (assertion(key, scope=None), "invalid_scope"),
        "garbage": ("not.a.jwt", "invalid_grant"),
    }
    for case, (grant, error) in refused.items():
        answer = exchange(grant)
        assert (answer.status_code, answer.json()["error"]) == (400, error), case
        assert answer.json()["error_description"], case
    answer = exchange(assertion(key), grant_type="client_credentials")
    assert answer.json()["error"] == "unsupported_grant_type"

    # Without a subject the token is the service account's own: no admin, no directory.
    own = exchange(assertion(key, sub=None)).json()["access_token"]
    with directory(google, own) as client:
        assert error_of(client.get("/users", params=MY_CUSTOMER))["errors"][0]["reason"] == (
            "forbidden"
        )


def test_the_api_refuses_missing_unknown_expired_and_narrow_tokens(google: FakeGoogle) -> None:
    users = f"{google.directory_url}/users"
    answer = httpx.get(users, params=MY_CUSTOMER)
    assert answer.status_code == 401
    assert error_of(answer)["errors"][0]["reason"] == "required"
    assert error_of(answer)["status"] == "UNAUTHENTICATED"
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")

    with directory(google, "ya29.unknown") as client:
        answer = client.get("/users", params=MY_CUSTOMER)
    assert answer.status_code == 401
    assert error_of(answer)["errors"][0]["reason"] == "authError"

    token = delegated_token(google)
    google.workspace.expire_tokens()
    with directory(google, token) as client:
        assert client.get("/users", params=MY_CUSTOMER).status_code == 401

    # Issued with the usual expires_in, so that the client learns of expiry from the API.
    google.workspace.tokens_expire_immediately = True
    key = google.workspace.service_account_key()
    google.workspace.grant_delegation(key["client_id"], READ_SCOPES)
    made = credentials(key)
    with directory(google, refreshed(made)) as client:
        assert client.get("/users", params=MY_CUSTOMER).status_code == 401
    assert made.valid
    google.workspace.tokens_expire_immediately = False

    with directory(google, delegated_token(google, [USER_READONLY_SCOPE])) as client:
        answer = client.get("/groups", params=MY_CUSTOMER)
        assert client.get("/users", params=MY_CUSTOMER).status_code == 200
    assert answer.status_code == 403
    assert error_of(answer)["errors"][0]["reason"] == "insufficientPermissions"


# Consent: OAuth 2.0 for web server applications

CLIENT_ID = "123456789012-scimgate.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-consent-test-secret"
REDIRECT_URI = "https://scimgate.example.org/google/consented"
CONSENT_SCOPES = (*READ_SCOPES, "openid", "email")


@pytest.fixture
def consenting(google: FakeGoogle) -> FakeGoogle:
    """The workspace with the app's OAuth client registered, and its admin at the screen."""
    google.workspace.register_oauth_client(CLIENT_ID, CLIENT_SECRET, [REDIRECT_URI])
    google.workspace.consenting_user = ADMIN
    return google


def oauth_client(
    scopes: Sequence[str] = CONSENT_SCOPES, auth_method: str = "client_secret_basic", **more: Any
) -> OAuth2Client:
    """The app's side of the flow, as Authlib speaks it."""
    return OAuth2Client(
        CLIENT_ID,
        CLIENT_SECRET,
        scope=" ".join(scopes),
        redirect_uri=REDIRECT_URI,
        token_endpoint_auth_method=auth_method,
        timeout=10,
        **more,
    )


def sent_back(google: FakeGoogle, url: str) -> dict[str, str]:
    """Where the browser is sent from the consent screen: the redirect URI's parameters."""
    answer = httpx.get(url, follow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    found = parse_qs(urlsplit(location).query, keep_blank_values=True, strict_parsing=True)
    assert all(len(values) == 1 for values in found.values())
    return {name: values[0] for name, values in found.items()}


def consent_url(
    google: FakeGoogle, client: OAuth2Client, state: str = "st4te", **params: str
) -> str:
    url, _ = client.create_authorization_url(
        google.auth_uri,
        state=state,
        **({"access_type": "offline", "prompt": "consent"} | params),
    )
    return str(url)


def code_of(google: FakeGoogle, client: OAuth2Client, **params: str) -> str:
    back = sent_back(google, consent_url(google, client, **params))
    return back["code"]


def payload(token: str) -> dict[str, Any]:
    """A JWT's claims, read without verifying it, as the app reads the ID token."""
    part = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return claims


def user_credentials(
    google: FakeGoogle,
    refresh_token: str,
    scopes: Sequence[str] = READ_SCOPES,
    client_id: str = CLIENT_ID,
) -> UserCredentials:
    """What the sync makes of a consent: its refresh token, with the app's client."""
    made: UserCredentials = UserCredentials(  # type: ignore[no-untyped-call]
        token=None,
        refresh_token=refresh_token,
        client_id=client_id,
        client_secret=CLIENT_SECRET,
        token_uri=google.token_uri,
        scopes=list(scopes),
    )
    return made


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
def test_an_admin_consents_and_google_auth_reads_the_directory_with_the_refresh_token(
    consenting: FakeGoogle, auth_method: str
) -> None:
    workspace = consenting.workspace
    admin = workspace.get_user(ADMIN)
    assert admin is not None
    with oauth_client(auth_method=auth_method) as client:
        url = consent_url(consenting, client, login_hint=ADMIN, include_granted_scopes="true")
        assert url.startswith(f"{consenting.url}/o/oauth2/v2/auth?")
        back = sent_back(consenting, url)
        assert list(back) == ["state", "code", "scope", "authuser", "prompt"]
        assert back["state"] == "st4te"
        assert back["code"].startswith("4/")
        assert back["scope"].split() == list(CONSENT_SCOPES)
        assert (back["authuser"], back["prompt"]) == ("0", "consent")

        token = client.fetch_token(
            consenting.token_uri, code=back["code"], redirect_uri=REDIRECT_URI
        )

    assert set(token) >= {
        "access_token",
        "expires_in",
        "refresh_token",
        "scope",
        "token_type",
        "id_token",
    }
    assert token["expires_in"] == 3599
    assert token["token_type"] == "Bearer"
    assert set(token["scope"].split()) == set(CONSENT_SCOPES)
    claims = payload(token["id_token"])
    assert claims["iss"] == "https://accounts.google.com"
    assert claims["aud"] == claims["azp"] == CLIENT_ID
    assert claims["sub"] == admin.id
    assert (claims["email"], claims["email_verified"]) == (ADMIN, True)
    assert claims["iat"] <= time.time() < claims["exp"]
    # Signed by a key Google publishes, as Google signs them.
    keys = KeySet.import_key_set(httpx.get(consenting.certs_uri, timeout=10).json())
    assert jwt.decode(token["id_token"], keys, algorithms=["RS256"]).claims == claims

    # The access token the code gave reads the directory as the admin.
    with directory(consenting, token["access_token"]) as api:
        assert api.get("/users", params=MY_CUSTOMER).status_code == 200

    made = user_credentials(consenting, token["refresh_token"])
    refreshed_token = refreshed(made)
    assert refreshed_token != token["access_token"]
    assert made.expiry is not None
    with directory(consenting, refreshed_token) as api:
        answer = api.get("/users", params=MY_CUSTOMER)
        groups = api.get("/groups", params=MY_CUSTOMER)
    assert answer.status_code == 200
    assert [user["primaryEmail"] for user in answer.json()["users"]] == [ADMIN]
    assert groups.status_code == 200
    issued = [t for t in workspace.issued_tokens if t.access_token == refreshed_token]
    assert [(t.subject, t.client_id, t.client_email) for t in issued] == [(ADMIN, CLIENT_ID, "")]
    # Refreshed for the read scopes asked for, of those consented to.
    assert issued[0].scopes == frozenset(READ_SCOPES)
    assert any(r.path == "/o/oauth2/v2/auth" for r in workspace.request_log)


def test_the_authorization_endpoint_refuses_bad_requests_with_an_error_page(
    consenting: FakeGoogle,
) -> None:
    good = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": " ".join(CONSENT_SCOPES),
        "state": "s",
    }
    refused = {
        "unknown client": (
            {"client_id": "nobody.apps.googleusercontent.com"},
            401,
            "invalid_client",
        ),
        "no client": ({"client_id": ""}, 400, "invalid_request"),
        "other redirect": (
            {"redirect_uri": "https://evil.example.com/cb"},
            400,
            "redirect_uri_mismatch",
        ),
        "a redirect not exactly so": (
            {"redirect_uri": REDIRECT_URI + "/"},
            400,
            "redirect_uri_mismatch",
        ),
        "implicit": ({"response_type": "token"}, 400, "unsupported_response_type"),
        "no scope": ({"scope": ""}, 400, "invalid_request"),
        "bad scope": ({"scope": "openid directory"}, 400, "invalid_scope"),
        "bad access type": ({"access_type": "forever"}, 400, "invalid_request"),
    }
    for case, (changes, status, error) in refused.items():
        answer = httpx.get(consenting.auth_uri, params=good | changes, timeout=10)
        assert answer.status_code == status, case
        assert answer.headers["content-type"].startswith("text/html"), case
        assert f"Error {status}: {error}" in answer.text, case
        assert "location" not in answer.headers, case
    assert httpx.get(consenting.auth_uri, params=good, timeout=10).status_code == 302


def test_a_cancelled_consent_or_nobody_to_approve_sends_access_denied(
    consenting: FakeGoogle,
) -> None:
    workspace = consenting.workspace
    workspace.add_user("gone", suspended=True, is_admin=True)
    with oauth_client() as client:
        workspace.deny_consent = True
        denied = sent_back(consenting, consent_url(consenting, client, state="a b/c"))
        workspace.deny_consent = False
        assert denied == {"error": "access_denied", "state": "a b/c"}

        for who in (None, "stranger@elsewhere.example", "gone@example.com"):
            workspace.consenting_user = who
            assert sent_back(consenting, consent_url(consenting, client)) == {
                "error": "access_denied",
                "state": "st4te",
            }, who

        # A name in the domain will do for a test's consenting user.
        workspace.consenting_user = "admin"
        assert "code" in sent_back(consenting, consent_url(consenting, client))


def test_a_code_is_exchanged_once_by_its_client_with_its_redirect_uri(
    consenting: FakeGoogle,
) -> None:
    workspace = consenting.workspace
    workspace.register_oauth_client("other.apps.googleusercontent.com", "other", [REDIRECT_URI])

    def exchange(issued: str, **changes: str) -> httpx.Response:
        form = {
            "grant_type": "authorization_code",
            "code": issued,
            "redirect_uri": REDIRECT_URI,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        }
        return httpx.post(consenting.token_uri, data=form | changes, timeout=10)

    bad_grant = (400, {"error": "invalid_grant", "error_description": "Bad Request"})
    with oauth_client() as client:
        code = code_of(consenting, client)
        assert client.fetch_token(consenting.token_uri, code=code)["refresh_token"]
        with pytest.raises(OAuthError) as reused:
            client.fetch_token(consenting.token_uri, code=code)
        assert (reused.value.error, reused.value.description) == ("invalid_grant", "Bad Request")

        wrong_secret = exchange(code_of(consenting, client), client_secret="guess")
        assert (wrong_secret.status_code, wrong_secret.json()) == (
            401,
            {"error": "invalid_client", "error_description": "Unauthorized"},
        )
        unknown = exchange(code_of(consenting, client), client_id="nobody")
        assert (unknown.status_code, unknown.json()["error"]) == (401, "invalid_client")

        for changes in (
            {"redirect_uri": "https://scimgate.example.org/elsewhere"},
            {"client_id": "other.apps.googleusercontent.com", "client_secret": "other"},
            {"code": "4/0Anever-issued"},
        ):
            answer = exchange(code_of(consenting, client), **changes)
            assert (answer.status_code, answer.json()) == bad_grant, changes

        code = code_of(consenting, client)
        workspace.expire_authorization_codes()
        assert (exchange(code).status_code, exchange(code).json()) == bad_grant

    # Without offline access no refresh token; without openid no ID token.
    with oauth_client(scopes=[USER_READONLY_SCOPE]) as client:
        code = code_of(consenting, client, access_type="online")
        token = client.fetch_token(consenting.token_uri, code=code)
    assert "refresh_token" not in token and "id_token" not in token
    assert token["scope"] == USER_READONLY_SCOPE
    assert workspace.token_requests == 10


def test_a_code_challenge_needs_its_verifier(consenting: FakeGoogle) -> None:
    verifier = "v" * 64
    with oauth_client(code_challenge_method="S256") as client:
        code = code_of(consenting, client, code_verifier=verifier)
        with pytest.raises(OAuthError, match="Missing code verifier"):
            client.fetch_token(consenting.token_uri, code=code)
        code = code_of(consenting, client, code_verifier=verifier)
        with pytest.raises(OAuthError, match="Invalid code verifier"):
            client.fetch_token(consenting.token_uri, code=code, code_verifier="w" * 64)
        code = code_of(consenting, client, code_verifier=verifier)
        assert client.fetch_token(consenting.token_uri, code=code, code_verifier=verifier)


def test_a_revoked_consent_refreshes_no_more(consenting: FakeGoogle) -> None:
    workspace = consenting.workspace
    with oauth_client() as client:
        first = client.fetch_token(consenting.token_uri, code=code_of(consenting, client))
        second = client.fetch_token(consenting.token_uri, code=code_of(consenting, client))

    access_token = refreshed(user_credentials(consenting, first["refresh_token"]))
    workspace.revoke_refresh_tokens()
    with pytest.raises(RefreshError, match=r"invalid_grant: Token has been expired or revoked\."):
        refreshed(user_credentials(consenting, first["refresh_token"]))
    with pytest.raises(RefreshError, match="invalid_grant"):
        refreshed(user_credentials(consenting, second["refresh_token"]))
    # The access tokens got on the consents go with it.
    with directory(consenting, access_token) as api:
        assert api.get("/users", params=MY_CUSTOMER).status_code == 401

    # The revocation endpoint revokes one consent, by its refresh or an access token.
    with oauth_client() as client:
        token = client.fetch_token(consenting.token_uri, code=code_of(consenting, client))
        kept = client.fetch_token(consenting.token_uri, code=code_of(consenting, client))
    revoked = httpx.post(consenting.revoke_uri, data={"token": token["access_token"]}, timeout=10)
    assert revoked.status_code == 200
    with pytest.raises(RefreshError, match="invalid_grant"):
        refreshed(user_credentials(consenting, token["refresh_token"]))
    again = httpx.post(consenting.revoke_uri, data={"token": token["refresh_token"]}, timeout=10)
    assert (again.status_code, again.json()["error"]) == (400, "invalid_token")
    refreshed(user_credentials(consenting, kept["refresh_token"]))


def test_consent_tokens_are_checked_as_delegated_tokens_are(consenting: FakeGoogle) -> None:
    workspace = consenting.workspace
    workspace.add_user("bob", "Bob", "Builder")
    workspace.register_oauth_client("other.apps.googleusercontent.com", CLIENT_SECRET, [])

    # Anyone of the workspace may consent; the API reads the directory for admins only.
    workspace.consenting_user = "bob@example.com"
    with oauth_client() as client:
        bobs = client.fetch_token(consenting.token_uri, code=code_of(consenting, client))
    assert payload(bobs["id_token"])["email"] == "bob@example.com"
    with directory(consenting, bobs["access_token"]) as api:
        assert error_of(api.get("/users", params=MY_CUSTOMER))["errors"][0]["reason"] == (
            "forbidden"
        )

    # A consent to reading users reads no groups, and refreshes for no more.
    workspace.consenting_user = ADMIN
    with oauth_client(scopes=[USER_READONLY_SCOPE, "openid"]) as client:
        narrow = client.fetch_token(consenting.token_uri, code=code_of(consenting, client))
    assert "email" not in payload(narrow["id_token"])
    access_token = refreshed(
        user_credentials(consenting, narrow["refresh_token"], [USER_READONLY_SCOPE])
    )
    with directory(consenting, access_token) as api:
        assert api.get("/users", params=MY_CUSTOMER).status_code == 200
        answer = api.get("/groups", params=MY_CUSTOMER)
    assert answer.status_code == 403
    assert error_of(answer)["errors"][0]["reason"] == "insufficientPermissions"
    with pytest.raises(RefreshError, match="invalid_scope"):
        refreshed(user_credentials(consenting, narrow["refresh_token"]))

    # A refresh token is its client's.
    with pytest.raises(RefreshError, match="unauthorized_client"):
        refreshed(
            user_credentials(
                consenting,
                narrow["refresh_token"],
                [USER_READONLY_SCOPE],
                "other.apps.googleusercontent.com",
            )
        )
    # A suspended user's consent refreshes no more.
    workspace.suspend_user(ADMIN)
    with pytest.raises(RefreshError, match="invalid_grant"):
        refreshed(user_credentials(consenting, narrow["refresh_token"], [USER_READONLY_SCOPE]))


# Users


def test_users_are_listed_in_pages(google: FakeGoogle) -> None:
    google.workspace.populate(1_233, org_units=["/Sales", "/Engineering"])
    with directory(google, delegated_token(google)) as client:
        found = pages(client, "/users", maxResults=500, **MY_CUSTOMER)
        default = client.get("/users", params=MY_CUSTOMER).json()
        too_many = client.get("/users", params={"maxResults": 501, **MY_CUSTOMER})
        garbage = client.get("/users", params={"pageToken": "garbage", **MY_CUSTOMER})
        elsewhere = client.get(
            "/users",
            params={"pageToken": found[0]["nextPageToken"], "query": "isAdmin=true", **MY_CUSTOMER},
        )
        no_customer = client.get("/users")
        other_customer = client.get("/users", params={"customer": "C0other"})
        by_domain = client.get("/users", params={"domain": "example.com", "maxResults": 1})

    assert [len(page["users"]) for page in found] == [500, 500, 234]
    emails = [user["primaryEmail"] for page in found for user in page["users"]]
    assert emails == sorted(emails)
    assert len(set(emails)) == 1_234
    assert all(page["kind"] == "admin#directory#users" and page["etag"] for page in found)
    assert len(default["users"]) == 100
    for refused in (too_many, garbage, elsewhere):
        assert refused.status_code == 400
        assert error_of(refused)["errors"][0]["reason"] == "invalid"
    assert no_customer.status_code == 400
    assert error_of(no_customer)["errors"][0]["reason"] == "badRequest"
    assert other_customer.status_code == 403
    assert len(by_domain.json()["users"]) == 1


def test_a_user_resource_has_googles_shape(google: FakeGoogle) -> None:
    workspace = google.workspace
    added = workspace.add_user(
        "grace",
        "Grace",
        "Hopper",
        org_unit_path="/Engineering",
        title="Rear Admiral",
        department="Navy",
        cost_center="CC42",
        employee_id="E1906",
        manager=ADMIN,
        phone="+1 555 0100",
        aliases=["amazing.grace"],
        custom_schemas={"HR": {"level": "L7"}},
    )
    with directory(google, delegated_token(google)) as client:
        by_id = client.get(f"/users/{added['id']}").json()
        by_email = client.get("/users/grace@example.com", params={"projection": "full"}).json()
        by_alias = client.get("/users/amazing.grace@example.com").json()
        missing = client.get("/users/nobody@example.com")

    assert by_id["id"].isdigit()
    assert by_id == by_alias
    assert by_id["kind"] == "admin#directory#user"
    assert by_id["primaryEmail"] == "grace@example.com"
    assert by_id["name"] == {
        "givenName": "Grace",
        "familyName": "Hopper",
        "fullName": "Grace Hopper",
    }
    assert by_id["orgUnitPath"] == "/Engineering"
    assert by_id["customerId"] == workspace.customer_id
    assert (by_id["suspended"], by_id["archived"], by_id["isAdmin"]) == (False, False, False)
    assert by_id["emails"] == [
        {"address": "grace@example.com", "primary": True},
        {"address": "amazing.grace@example.com"},
    ]
    assert by_id["organizations"] == [
        {
            "title": "Rear Admiral",
            "department": "Navy",
            "costCenter": "CC42",
            "primary": True,
            "customType": "",
        }
    ]
    assert by_id["relations"] == [{"value": ADMIN, "type": "manager"}]
    assert by_id["externalIds"] == [{"value": "E1906", "type": "organization"}]
    assert by_id["phones"] == [{"value": "+1 555 0100", "type": "work"}]
    assert by_id["creationTime"].endswith("Z")
    assert "customSchemas" not in by_id
    assert by_email["customSchemas"] == {"HR": {"level": "L7"}}
    assert missing.status_code == 404
    assert error_of(missing)["message"] == "Resource Not Found: userKey"
    assert error_of(missing)["errors"][0]["reason"] == "notFound"

    assert workspace.suspend_user("grace")["etag"] != by_id["etag"]
    assert workspace.move_user(added["id"], "/Sales")["orgUnitPath"] == "/Sales"
    assert workspace.update_user("grace", given_name="Amazing")["name"]["fullName"] == (
        "Amazing Hopper"
    )
    with pytest.raises(TypeError):
        workspace.update_user("grace", nickname="G")


def test_projections_choose_the_custom_schemas(google: FakeGoogle) -> None:
    google.workspace.add_user("ken", custom_schemas={"HR": {"level": "L5"}, "IT": {"laptop": "x"}})
    query = {"query": "email=ken@example.com", **MY_CUSTOMER}
    with directory(google, delegated_token(google)) as client:

        def schemas(**params: str) -> Any:
            [user] = client.get("/users", params=query | params).json()["users"]
            return user.get("customSchemas")

        assert schemas() is None
        assert schemas(projection="basic") is None
        assert schemas(projection="full") == {"HR": {"level": "L5"}, "IT": {"laptop": "x"}}
        assert schemas(projection="custom", customFieldMask="IT") == {"IT": {"laptop": "x"}}
        assert client.get("/users", params=query | {"projection": "custom"}).status_code == 400


def test_an_org_unit_query_matches_the_unit_and_those_beneath_it(google: FakeGoogle) -> None:
    workspace = google.workspace
    for name, unit in [
        ("sam", "/Sales"),
        ("emma", "/Sales/EMEA"),
        ("paul", "/Sales/EMEA/Paris"),
        ("sally", "/Salesforce"),
        ("eve", "/Engineering"),
    ]:
        workspace.add_user(name, org_unit_path=unit)
    workspace.suspend_user("paul")

    with directory(google, delegated_token(google)) as client:

        def listed(query: str) -> list[str]:
            answer = client.get("/users", params={"query": query, **MY_CUSTOMER})
            assert answer.status_code == 200, answer.text
            return [user["primaryEmail"].split("@")[0] for user in answer.json().get("users", [])]

        assert listed("orgUnitPath='/Sales'") == ["emma", "paul", "sam"]
        assert listed("orgUnitPath=/Sales") == ["emma", "paul", "sam"]
        assert listed("orgUnitPath=/Sales/EMEA isSuspended=false") == ["emma"]
        assert listed("orgUnitPath='/'") == ["admin", "emma", "eve", "paul", "sally", "sam"]
        assert listed("email:sa*") == ["sally", "sam"]
        assert listed("isAdmin=true") == ["admin"]
        answer = client.get("/users", params={"query": "orgUnitPath='/Nowhere'", **MY_CUSTOMER})
        assert "users" not in answer.json()
        assert (
            client.get("/users", params={"query": "shoeSize=42", **MY_CUSTOMER}).status_code == 400
        )
    assert {"/", "/Sales", "/Sales/EMEA", "/Sales/EMEA/Paris"} <= set(workspace.org_units)


def test_deleted_users_leave_their_groups_and_are_listed_only_when_asked(
    google: FakeGoogle,
) -> None:
    workspace = google.workspace
    user = workspace.add_user("leaver")
    workspace.add_group("team", "Team")
    workspace.add_member("team", "leaver")
    workspace.delete_user("leaver")

    with directory(google, delegated_token(google)) as client:
        assert client.get(f"/users/{user['id']}").status_code == 404
        deleted = client.get("/users", params={"showDeleted": "true", **MY_CUSTOMER}).json()
        assert [u["id"] for u in deleted["users"]] == [user["id"]]
        assert "members" not in client.get("/groups/team@example.com/members").json()
        workspace.undelete_user(user["id"])
        assert client.get("/users/leaver@example.com").status_code == 200


# Groups and members


def test_groups_and_members_are_listed_in_pages(google: FakeGoogle) -> None:
    workspace = google.workspace
    workspace.populate(450, groups=201, members_per_group=3)
    everyone = workspace.add_group("everyone", "Everyone", "All of us")
    for user in workspace.users():
        workspace.add_member("everyone", user.id)

    with directory(google, delegated_token(google)) as client:
        groups = pages(client, "/groups", **MY_CUSTOMER)
        members = pages(client, "/groups/everyone@example.com/members", maxResults=200)
        group = client.get(f"/groups/{everyone['id']}").json()
        too_many = client.get("/groups", params={"maxResults": 201, **MY_CUSTOMER})
        missing = client.get("/groups/nothing@example.com/members")

    assert [len(page["groups"]) for page in groups] == [200, 2]
    assert groups[0]["kind"] == "admin#directory#groups"
    assert [len(page["members"]) for page in members] == [200, 200, 51]
    assert len({m["id"] for page in members for m in page["members"]}) == 451
    assert members[0]["kind"] == "admin#directory#members"
    assert group["kind"] == "admin#directory#group"
    assert group["directMembersCount"] == "451"
    assert (group["email"], group["name"], group["description"]) == (
        "everyone@example.com",
        "Everyone",
        "All of us",
    )
    assert too_many.status_code == 400
    assert missing.status_code == 404
    assert error_of(missing)["message"] == "Resource Not Found: groupKey"


def test_a_group_may_hold_a_group(google: FakeGoogle) -> None:
    workspace = google.workspace
    for name in ("ann", "ben", "cat", "dan"):
        workspace.add_user(name)
    workspace.add_group("engineering")
    workspace.add_group("platform")
    workspace.add_group("oncall")
    workspace.add_member("engineering", "ann", role="OWNER")
    workspace.add_member("engineering", "platform@example.com")
    workspace.add_member("platform", "ben")
    workspace.add_member("platform", "cat")
    workspace.add_member("platform", "oncall")
    workspace.add_member("oncall", "dan")
    workspace.add_member("oncall", "ann")
    workspace.suspend_user("cat")

    with directory(google, delegated_token(google)) as client:
        path = "/groups/engineering@example.com/members"
        direct = client.get(path).json()["members"]
        derived = client.get(path, params={"includeDerivedMembership": "true"}).json()["members"]
        owners = client.get(path, params={"roles": "OWNER"}).json()["members"]
        groups_of_ann = client.get("/groups", params={"userKey": "ann@example.com"}).json()

    assert [(m["email"], m["type"], m["role"]) for m in direct] == [
        ("ann@example.com", "USER", "OWNER"),
        ("platform@example.com", "GROUP", "MEMBER"),
    ]
    assert {m["kind"] for m in direct} == {"admin#directory#member"}
    assert all(m["etag"] and m["id"] and m["status"] == "ACTIVE" for m in direct)
    assert {m["email"]: m["status"] for m in derived} == {
        "ann@example.com": "ACTIVE",
        "ben@example.com": "ACTIVE",
        "cat@example.com": "SUSPENDED",
        "dan@example.com": "ACTIVE",
        "platform@example.com": "ACTIVE",
    }
    assert [m["email"] for m in owners] == ["ann@example.com"]
    assert [g["email"] for g in groups_of_ann["groups"]] == [
        "engineering@example.com",
        "oncall@example.com",
    ]
    workspace.remove_member("engineering", "platform")
    assert workspace.get_group("engineering@example.com") is not None
    assert [size for group, size in workspace.groups() if group.email.startswith("eng")] == [1]


# Quotas


def test_injected_failures_come_before_answers_and_are_counted(google: FakeGoogle) -> None:
    workspace = google.workspace
    with directory(google, delegated_token(google)) as client:
        workspace.fail_requests(2)
        statuses = [client.get("/users", params=MY_CUSTOMER) for _ in range(3)]
        workspace.fail_requests(1, status=429, reason="rateLimitExceeded")
        limited = client.get("/users", params=MY_CUSTOMER)
        workspace.fail_requests(1, status=503, reason="backendError")
        unavailable = client.get("/groups", params=MY_CUSTOMER)

    assert [answer.status_code for answer in statuses] == [403, 403, 200]
    error = error_of(statuses[0])
    assert error["message"] == "User Rate Limit Exceeded"
    assert error["errors"][0] == {
        "message": "User Rate Limit Exceeded",
        "domain": "usageLimits",
        "reason": "userRateLimitExceeded",
    }
    assert error["status"] == "PERMISSION_DENIED"
    assert limited.status_code == 429
    assert error_of(limited)["status"] == "RESOURCE_EXHAUSTED"
    assert error_of(limited)["errors"][0]["reason"] == "rateLimitExceeded"
    assert unavailable.status_code == 503
    assert error_of(unavailable)["errors"][0]["reason"] == "backendError"
    assert (workspace.requests_served, workspace.failures_served) == (5, 4)
    directory_requests = [r for r in workspace.request_log if r.path != "/token"]
    assert directory_requests[0].method == "GET"
    assert directory_requests[0].path == "/admin/directory/v1/users"
    assert directory_requests[0].query == MY_CUSTOMER


def test_a_rate_limit_refuses_requests_past_it(google: FakeGoogle) -> None:
    with directory(google, delegated_token(google)) as client:
        google.workspace.rate_limit(3)
        statuses = [client.get("/users", params=MY_CUSTOMER).status_code for _ in range(10)]
        google.workspace.rate_limit(None)
        assert client.get("/users", params=MY_CUSTOMER).status_code == 200
    assert statuses[:3] == [200, 200, 200]
    assert 403 in statuses


# Push notifications


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    """Lower-case names."""
    body: bytes


@contextmanager
def receiver() -> Iterator[tuple[str, "queue.Queue[Received]"]]:
    """A webhook receiver on a loopback port: its address, and what it receives."""
    received: queue.Queue[Received] = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            received.put(Received({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    serving = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    serving.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/notifications", received
    finally:
        server.shutdown()
        server.server_close()
        serving.join(WAIT)


def test_a_watch_channel_is_notified_when_a_user_is_suspended(google: FakeGoogle) -> None:
    workspace = google.workspace
    user = workspace.add_user("watched")
    with receiver() as (address, received), directory(google, delegated_token(google)) as client:
        channel_body = {"id": "sync-1", "type": "web_hook", "address": address, "token": "t0k"}
        opened = client.post(
            "/users/watch", params={"event": "update", **MY_CUSTOMER}, json=channel_body
        )
        assert opened.status_code == 200, opened.text
        channel = opened.json()
        assert channel["kind"] == "api#channel"
        assert (channel["id"], channel["token"]) == ("sync-1", "t0k")
        assert channel["resourceUri"].startswith(f"{google.directory_url}/users?")
        assert int(channel["expiration"]) > time.time() * 1000

        sync = received.get(timeout=WAIT)
        assert sync.headers["x-goog-resource-state"] == "sync"
        assert sync.headers["x-goog-message-number"] == "1"

        workspace.add_user("newcomer")  # An add: not for a channel watching updates.
        suspended = workspace.suspend_user("watched")
        update = received.get(timeout=WAIT)
        assert update.headers["x-goog-channel-id"] == "sync-1"
        assert update.headers["x-goog-channel-token"] == "t0k"
        assert update.headers["x-goog-channel-expiration"].endswith("GMT")
        assert update.headers["x-goog-resource-id"] == channel["resourceId"]
        assert update.headers["x-goog-resource-uri"] == channel["resourceUri"]
        assert update.headers["x-goog-resource-state"] == "update"
        assert update.headers["x-goog-message-number"] == "2"
        assert json.loads(update.body) == {
            "kind": "admin#directory#user",
            "id": user["id"],
            "etag": suspended["etag"],
            "primaryEmail": "watched@example.com",
        }

        stop = {"id": "sync-1", "resourceId": channel["resourceId"]}
        stopped = client.post(f"{google.url}/admin/directory_v1/channels/stop", json=stop)
        assert stopped.status_code == 204
        workspace.update_user("watched", suspended=False)
        assert workspace.wait_for_notifications(WAIT)
        assert received.empty()
        again = client.post(f"{google.url}/admin/directory_v1/channels/stop", json=stop)
        assert again.status_code == 404
    assert [(d.state, d.status) for d in workspace.deliveries] == [("sync", 200), ("update", 200)]


def test_a_channel_takes_every_event_it_was_opened_for(google: FakeGoogle) -> None:
    workspace = google.workspace
    with receiver() as (address, received), directory(google, delegated_token(google)) as client:
        channel = {"id": "all", "type": "web_hook", "address": address}
        assert client.post("/users/watch", params=MY_CUSTOMER, json=channel).status_code == 200
        duplicate = client.post("/users/watch", params=MY_CUSTOMER, json=channel)
        assert duplicate.status_code == 400
        workspace.add_user("carol")
        workspace.update_user("carol", is_admin=True)
        workspace.delete_user("carol")
        workspace.undelete_user("carol@example.com")
        assert workspace.wait_for_notifications(WAIT)
    messages = [received.get_nowait().headers for _ in range(6)]
    assert [headers["x-goog-resource-state"] for headers in messages] == [
        "sync",
        "add",
        "update",
        "makeAdmin",
        "delete",
        "undelete",
    ]
    assert [headers["x-goog-message-number"] for headers in messages] == list("123456")
    assert not any("x-goog-channel-token" in headers for headers in messages)


# Large directories


def test_populate_builds_large_directories_quickly_and_the_same_each_time() -> None:
    started = time.perf_counter()
    workspace = Workspace()
    workspace.populate(10_000, 200, 50, ["/Sales", "/Sales/EMEA", "/Engineering"])
    assert time.perf_counter() - started < 2.0

    again = Workspace()
    again.populate(10_000, 200, 50, ["/Sales", "/Sales/EMEA", "/Engineering"])

    def shape(of: Workspace) -> list[tuple[str, str, str, str]]:
        return sorted((u.id, u.primary_email, u.org_unit_path, u.manager) for u in of.users())

    assert shape(workspace) == shape(again)
    assert len(workspace.users()) == 10_000
    groups = workspace.groups()
    assert len(groups) == 200
    assert {size for _, size in groups} == {50}
    assert sorted(g.email for g, _ in groups) == sorted(g.email for g, _ in again.groups())
    assert set(workspace.org_units) == {"/", "/Sales", "/Sales/EMEA", "/Engineering"}
    assert len({u.primary_email for u in workspace.users()}) == 10_000
