"""The OAuth 2.0 token endpoint (RFC 6749 §4.4, client credentials): ``POST /oauth/token``.

An IdP configured with a directory's OAuth client sends its client id and secret,
by HTTP Basic (``client_secret_basic``) or in the form (``client_secret_post``),
and gets an access token for that directory's SCIM endpoint
(``service.administration.oauth_clients``). The protocol's rules (client
authentication, the grant type, the error answers and their ``WWW-Authenticate``,
``Cache-Control: no-store``) are Authlib's; this module gives it the request and
stores what it issues.

Refused client credentials are paced by client address, as refused bearer tokens
are (``service.provisioning.rate_limits``).
"""

from collections.abc import Collection, Mapping
from typing import Any, cast

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Request
from authlib.oauth2.rfc6749.errors import InsecureTransportError, InvalidClientError
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from scimgate.api.clients import client_address
from scimgate.api.public_root import public_root
from scimgate.scim.errors import TooManyRequests
from scimgate.service.administration import oauth_clients
from scimgate.service.provisioning.rate_limits import RateLimiter
from scimgate.store.oauth_clients import OAuthClient

router = APIRouter()

AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

_REFUSED = frozenset({400, 401})
"""Statuses of an answer that refused the request: paced by client address."""


class _Client(ClientMixin):
    """A directory's OAuth client as Authlib asks about it; the secret is checked once asked."""

    def __init__(self, engine: Engine, client_id: str) -> None:
        self.engine = engine
        self.client_id = client_id
        self.authenticated: OAuthClient | None = None

    def get_client_id(self) -> str:
        return self.client_id

    def check_client_secret(self, client_secret: str) -> bool:
        self.authenticated = oauth_clients.authenticated_client(
            self.engine, self.client_id, client_secret
        )
        return self.authenticated is not None

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in AUTH_METHODS

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == ClientCredentialsGrant.GRANT_TYPE

    def get_allowed_scope(self, scope: Collection[str] | str) -> str:
        return ""  # a client opens its directory's SCIM endpoint; scopes narrow nothing


class _Grant(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS


class _TokenRequest(OAuth2Request):
    def __init__(self, uri: str, headers: Mapping[str, str], form: dict[str, str]) -> None:
        # ``headers`` must find names in any case (Authlib asks for "Authorization").
        super().__init__("POST", uri, headers=headers)
        self.payload = BasicOAuth2Payload(form)
        self._form = form

    @property
    def form(self) -> dict[str, str]:
        return self._form


class TokenServer(AuthorizationServer):
    """Authlib's authorization server with the client credentials grant only."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self.register_grant(_Grant)

    def query_client(self, client_id: str) -> _Client:
        # Whether the client exists is not told apart from a wrong secret: both are
        # "invalid_client" once its secret is checked.
        return _Client(self.engine, client_id)

    def generate_token(
        self,
        grant_type: str,
        client: ClientMixin,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, str | int]:
        """A new access token, stored at once (no refresh token: the client has its secret)."""
        assert isinstance(client, _Client) and client.authenticated is not None
        issued = oauth_clients.issue_access_token(self.engine, client.authenticated)
        if issued is None:
            raise InvalidClientError(description="The client was revoked or given a new secret")
        return {
            "token_type": "Bearer",
            "access_token": issued.secret,
            "expires_in": issued.expires_in,
        }

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Stored as it was made (``generate_token``)."""

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """Authlib's signals (a client authenticated, a token revoked) are not listened to."""

    def create_oauth2_request(self, request: _TokenRequest) -> _TokenRequest:
        return request

    def handle_response(self, status: int, body: Any, headers: Mapping[str, str]) -> JSONResponse:
        # Authlib hands a list of pairs, which dict() takes as it takes a mapping.
        return JSONResponse(body, status_code=status, headers=dict(headers))

    def answer(self, asked: "_TokenRequest") -> Response:
        """The token endpoint's answer to a request (``handle_response`` made it)."""
        return cast(Response, self.create_token_response(asked))


class TokenAnswer(BaseModel):
    token_type: str = Field(examples=["Bearer"])
    access_token: str = Field(description="Opens the client's directory's SCIM endpoint")
    expires_in: int = Field(description="Seconds until it expires", examples=[3600])


class TokenRefusal(BaseModel):
    error: str = Field(description="RFC 6749 §5.2: invalid_client, unsupported_grant_type…")
    error_description: str | None = None


_FORM = {
    "required": True,
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "required": ["grant_type"],
                "properties": {
                    "grant_type": {"type": "string", "enum": ["client_credentials"]},
                    "client_id": {"type": "string", "description": "client_secret_post only"},
                    "client_secret": {"type": "string", "description": "client_secret_post only"},
                    "scope": {"type": "string", "description": "Ignored"},
                },
            }
        }
    },
}
"""The form RFC 6749 §4.4.2 describes; ``client_secret_basic`` sends the client's
credentials by HTTP Basic instead."""


@router.post(
    "/oauth/token",
    summary="Obtain an access token for a directory's SCIM endpoint (client credentials)",
    tags=["oauth"],
    response_model=TokenAnswer,
    responses={
        400: {"model": TokenRefusal, "description": "Refused request (RFC 6749 §5.2)"},
        401: {"model": TokenRefusal, "description": "Refused client credentials"},
        429: {"model": TokenRefusal, "description": "Too many refused requests from here"},
    },
    openapi_extra={"requestBody": _FORM},
)
async def token(request: Request) -> Response:
    form = await request.form()
    fields = {key: value for key, value in form.multi_items() if isinstance(value, str)}
    if len(fields) != len(form.multi_items()):  # a file, or a parameter sent twice
        return JSONResponse(
            {
                "error": "invalid_request",
                "error_description": "Send each parameter once, as form fields",
            },
            status_code=400,
            headers={"Cache-Control": "no-store"},
        )
    server: TokenServer = request.app.state.token_server
    limiter: RateLimiter = request.app.state.rate_limiter
    uri = f"{public_root(request)}/oauth/token"
    try:
        asked = _TokenRequest(uri, request.headers, fields)
    except InsecureTransportError:
        return JSONResponse(
            {
                "error": "invalid_request",
                "error_description": "The token endpoint answers over HTTPS only: behind a TLS "
                "proxy, set SCIMGATE_PUBLIC_URL to the https address it serves",
            },
            status_code=400,
            headers={"Cache-Control": "no-store"},
        )
    answer: Response = await run_in_threadpool(server.answer, asked)
    if answer.status_code in _REFUSED:
        try:
            await run_in_threadpool(limiter.check_refused, client_address(request.scope))
        except TooManyRequests as exc:
            return JSONResponse(
                {"error": "temporarily_unavailable", "error_description": exc.detail},
                status_code=429,
                headers={"Retry-After": str(exc.retry_after), "Cache-Control": "no-store"},
            )
    return answer
