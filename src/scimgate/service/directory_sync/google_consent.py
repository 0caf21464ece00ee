"""An administrator's OAuth consent: the other way into a Google account than a service account.

The operator registers one OAuth client (a web application) in the Google Cloud
console; the customer's administrator signs in with Google and consents to the
read-only directory scopes (the authorization-code flow, with offline access), and
the refresh token Google gives is what the directory is read with afterwards.
Authlib speaks the protocol; google-auth refreshes the token at each sync.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from scimgate.config import GoogleSettings
from scimgate.records import frozen
from scimgate.service.directory_sync.google_api import CONSENT, CONSENT_SCOPES, GoogleApiError

if TYPE_CHECKING:
    # Imported where it is used: Authlib's requests client and requests add several MiB to
    # every process, and only a process asked to sign an administrator in needs them.
    from authlib.integrations.requests_client import OAuth2Session

TIMEOUT = 30.0


@frozen
class Consent:
    """What an administrator's consent gave: who they are, and the credentials to keep."""

    admin_email: str
    credentials: dict[str, Any]


def offered(settings: GoogleSettings) -> bool:
    """Whether the operator configured an OAuth client for administrators to consent with."""
    return bool(settings.oauth_client_id and settings.oauth_client_secret)


def consent_url(settings: GoogleSettings, redirect_uri: str, state: str) -> str:
    """Google's consent screen, asking for the read-only scopes and a refresh token."""
    with _client(settings, redirect_uri) as client:
        url, _ = client.create_authorization_url(
            settings.auth_url, state=state, access_type="offline", prompt="consent"
        )
    return str(url)


def exchange(settings: GoogleSettings, redirect_uri: str, code: str) -> Consent:
    """Trade the code Google sent back for the administrator's refresh token."""
    from authlib.common.errors import AuthlibBaseError

    try:
        with _client(settings, redirect_uri) as client:
            token: dict[str, Any] = client.fetch_token(
                settings.token_url, code=code, timeout=TIMEOUT
            )
    except AuthlibBaseError as exc:
        raise GoogleApiError(
            f"Google refused the consent's code ({exc.error}): sign in with Google again", 400
        ) from None
    refresh_token = token.get("refresh_token")
    email = _email(token.get("id_token"))
    if not refresh_token or email is None:
        raise GoogleApiError(
            "Google's answer held no refresh token or no address: remove this app's access "
            "in the Google account (Security > Third-party access), then sign in again",
            400,
        )
    credentials = {
        "type": CONSENT,
        "client_id": settings.oauth_client_id,
        "refresh_token": refresh_token,
    }
    return Consent(email, credentials)


def _client(settings: GoogleSettings, redirect_uri: str) -> OAuth2Session:
    if not offered(settings):
        raise GoogleApiError(
            "signing in with Google is not offered: the operator configured no OAuth client",
            400,
        )
    # Authlib's requests client: google-auth brings requests, and its httpx client is deprecated.
    from authlib.integrations.requests_client import OAuth2Session

    return OAuth2Session(
        settings.oauth_client_id,
        settings.oauth_client_secret,
        scope=" ".join(CONSENT_SCOPES),
        redirect_uri=redirect_uri,
        token_endpoint_auth_method="client_secret_post",
    )


def _email(id_token: Any) -> str | None:
    """The address in the ID token Google's token endpoint gave over TLS: trusted as such,
    without checking its signature (OpenID Connect Core §3.1.3.7)."""
    if not isinstance(id_token, str) or id_token.count(".") != 2:
        return None
    payload = id_token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None
    email = claims.get("email") if isinstance(claims, dict) else None
    return str(email) if email else None
