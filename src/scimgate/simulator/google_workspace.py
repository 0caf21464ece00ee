"""A stand-in for Google Workspace on loopback: what ``scimgate simulate --idp google-pull``
rehearses a pulled directory against, and what the tests of the pull sync run against.

``serving_workspace`` serves Google's services over real HTTP on a loopback port:

* Google's OAuth 2.0 token endpoint (``POST /token``) for service accounts: the JWT bearer
  grant that ``google.oauth2.service_account.Credentials`` sends, with domain-wide delegation
  (the ``sub`` claim) checked against what an admin granted in the Admin console.
* OAuth 2.0 for web server applications, the consent flow by which a customer's administrator
  lets an app read the directory without a service account: the authorization endpoint
  (``GET /o/oauth2/v2/auth``), where the consent screen is simulated (``consenting_user``
  approves, or ``deny_consent`` cancels) and the browser is sent back to the app with a code;
  the token endpoint's ``authorization_code`` and ``refresh_token`` grants, for clients
  registered with ``register_oauth_client``; an ID token for the ``openid`` scope, signed with
  a key of the fake that ``GET /oauth2/v3/certs`` publishes; and revocation (``POST /revoke``,
  ``revoke_refresh_tokens``). Access tokens so got act as the consenting user, for the
  scopes granted.
* The Admin SDK Directory API (``/admin/directory/v1``): users, groups and members, paged as
  Google pages them, and push notifications of user changes (``users/watch``).

The directory, the credentials and the failures to inject live in a ``Workspace``, which a
test changes directly (``add_user``, ``suspend_user``, ``fail_requests``...) while it is
served. Answers, errors included, have the shapes Google documents, so a client that copes
with this fake copes with Google.

Not modelled: the ``fields`` parameter (whole resources are returned), writes through the API,
org unit resources of their own (org units exist as users' ``orgUnitPath``), and HTTPS; of the
consent flow, the sign-in itself, remembered consents (the screen is shown each time, whatever
``prompt`` says), incremental authorization (``include_granted_scopes``), the implicit flow,
and the userinfo endpoint.
"""

import base64
import hashlib
import html
import json
import re
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote, unquote_plus, urlencode

import httpx
import uvicorn
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
"""The audience google-auth puts in every assertion, whatever the key's ``token_uri`` says."""

GOOGLE_AUDIENCES = frozenset(
    {
        GOOGLE_TOKEN_URI,
        "https://accounts.google.com/o/oauth2/token",
        "https://www.googleapis.com/oauth2/v4/token",
    }
)
"""The audiences Google's token endpoint accepts; the fake also accepts its own URI."""

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_SECONDS = 3599
"""What Google answers as ``expires_in`` for an access token."""

AUTH_PATH = "/o/oauth2/v2/auth"
"""The authorization endpoint's path (``https://accounts.google.com/o/oauth2/v2/auth``)."""
CERTS_PATH = "/oauth2/v3/certs"
"""Where the keys that sign ID tokens are published (``https://www.googleapis.com/...``)."""
REVOKE_PATH = "/revoke"
"""The revocation endpoint's path (``https://oauth2.googleapis.com/revoke``)."""
GOOGLE_ISSUER = "https://accounts.google.com"
"""The ``iss`` of Google's ID tokens."""
CODE_SECONDS = 600
"""How long an authorization code may be exchanged."""
ID_TOKEN_SECONDS = 3600
IDENTITY_SCOPES = frozenset({"openid", "email", "profile"})
"""The scopes of sign-in, which need no URL; any other scope is a URL."""
PROMPTS = frozenset({"none", "consent", "select_account"})

CLOCK_SKEW = 300
"""Seconds an assertion's ``iat`` may lie in the future (the signer's clock ahead of ours)."""

DIRECTORY_PATH = "/admin/directory/v1"
CHANNELS_STOP_PATH = "/admin/directory_v1/channels/stop"
CHANNEL_SECONDS = 6 * 3600
"""A watch channel's lifetime when the request asks for none."""

SCOPE_PREFIX = "https://www.googleapis.com/auth/"
USER_SCOPE = SCOPE_PREFIX + "admin.directory.user"
USER_READONLY_SCOPE = SCOPE_PREFIX + "admin.directory.user.readonly"
GROUP_SCOPE = SCOPE_PREFIX + "admin.directory.group"
GROUP_READONLY_SCOPE = SCOPE_PREFIX + "admin.directory.group.readonly"
MEMBER_SCOPE = SCOPE_PREFIX + "admin.directory.group.member"
MEMBER_READONLY_SCOPE = SCOPE_PREFIX + "admin.directory.group.member.readonly"

USER_SCOPES = frozenset({USER_SCOPE, USER_READONLY_SCOPE})
"""Scopes any one of which lets a token read users (and watch them)."""
GROUP_SCOPES = frozenset({GROUP_SCOPE, GROUP_READONLY_SCOPE})
MEMBER_SCOPES = GROUP_SCOPES | {MEMBER_SCOPE, MEMBER_READONLY_SCOPE}

USER_EVENTS = ("add", "delete", "makeAdmin", "undelete", "update")
"""The ``event`` values of ``users.watch``."""

ROLES = ("MEMBER", "MANAGER", "OWNER")

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}

FAILURES = {
    "userRateLimitExceeded": ("usageLimits", "User Rate Limit Exceeded"),
    "rateLimitExceeded": ("usageLimits", "Rate Limit Exceeded"),
    "quotaExceeded": ("usageLimits", "Quota Exceeded"),
    "backendError": ("global", "Backend Error"),
    "internalError": ("global", "Internal Error"),
}
"""The errors ``fail_requests`` can inject, by reason: their domain and message."""

UNAUTHORIZED_CLIENT = (
    "Client is unauthorized to retrieve access tokens using this method, "
    "or client not authorized for any of the scopes requested."
)
CREDENTIALS_HELP = (
    "Expected OAuth 2 access token, login cookie or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
GIVEN_NAMES = ("Ada", "Alan", "Barbara", "Dennis", "Edsger", "Frances", "Grace", "Hedy")
FAMILY_NAMES = ("Hopper", "Kay", "Knuth", "Lamport", "Liskov", "Perlman", "Ritchie", "Turing")
TITLES = ("Engineer", "Analyst", "Designer", "Manager")
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
"""Creation times count from here, one minute a user, so that directories are reproducible."""

T = TypeVar("T")


# Errors


class ApiError(Exception):
    """A Directory API error, answered in Google's JSON error format."""

    def __init__(
        self,
        code: int,
        message: str,
        reason: str,
        *,
        domain: str = "global",
        headers: Mapping[str, str] | None = None,
        **detail: str,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason
        self.domain = domain
        self.headers = dict(headers or {})
        self.detail = detail
        """More fields of the error item, such as ``location`` and ``locationType``."""

    def body(self) -> dict[str, Any]:
        item = {"message": self.message, "domain": self.domain, "reason": self.reason}
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "errors": [{**item, **self.detail}],
                "status": STATUS_NAMES.get(self.code, "UNKNOWN"),
            }
        }

    def response(self) -> Response:
        return JSONResponse(self.body(), self.code, headers=self.headers)


def invalid_input() -> ApiError:
    return ApiError(400, "Invalid Input", "invalid")


def bad_request() -> ApiError:
    return ApiError(400, "Bad Request", "badRequest")


def not_found(key_name: str) -> ApiError:
    return ApiError(404, f"Resource Not Found: {key_name}", "notFound")


def not_authorized() -> ApiError:
    """Google's answer to a token whose subject may not read the directory (no admin)."""
    return ApiError(403, "Not Authorized to access this resource/api", "forbidden")


class TokenError(Exception):
    """An error of the token endpoint, answered as Google's OAuth errors are."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.body = {"error": error, "error_description": description}


def invalid_signature() -> TokenError:
    return TokenError(400, "invalid_grant", "Invalid JWT Signature.")


def unauthorized_client_secret() -> TokenError:
    """Google's answer to a wrong client secret (or client credentials it cannot read)."""
    return TokenError(401, "invalid_client", "Unauthorized")


def bad_grant() -> TokenError:
    """Google's answer to an authorization code it will not exchange, whatever the reason."""
    return TokenError(400, "invalid_grant", "Bad Request")


def revoked() -> TokenError:
    return TokenError(400, "invalid_grant", "Token has been expired or revoked.")


class AuthorizationError(Exception):
    """A request the authorization endpoint refuses outright: Google shows the person an error
    page, and does not send them back to the app (whose redirect URI it cannot trust)."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"Error {status}: {error}")
        self.status = status
        self.error = error
        self.description = description

    def response(self, params: Mapping[str, str]) -> Response:
        details = "".join(
            f"<li>{html.escape(name)}={html.escape(value)}</li>" for name, value in params.items()
        )
        page = (
            "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            f"<title>Error {self.status}: {html.escape(self.error)}</title></head><body>"
            "<h1>Authorization Error</h1>"
            f"<p>Error {self.status}: {html.escape(self.error)}</p>"
            f"<p>{html.escape(self.description)}</p>"
            f"<h2>Request details</h2><ul>{details}</ul></body></html>"
        )
        return HTMLResponse(page, self.status)


# The directory's records


@dataclass(frozen=True, slots=True)
class User:
    """A user as the fake keeps it; ``user_resource`` renders it in Google's shape.

    Records are replaced, never changed, so a snapshot taken under the lock stays whole.
    """

    id: str
    primary_email: str
    given_name: str
    family_name: str
    creation_time: str
    etag: str
    org_unit_path: str = "/"
    is_admin: bool = False
    suspended: bool = False
    archived: bool = False
    title: str = ""
    department: str = ""
    cost_center: str = ""
    employee_id: str = ""
    manager: str = ""
    """The manager's email, rendered as a ``relations`` entry of type ``manager``."""
    phone: str = ""
    aliases: tuple[str, ...] = ()
    custom_schemas: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def emails(self) -> tuple[str, ...]:
        return (self.primary_email, *self.aliases)


USER_FIELDS = frozenset(f.name for f in fields(User)) - {"id", "creation_time", "etag"}
"""What ``Workspace.update_user`` may change."""


@dataclass(frozen=True, slots=True)
class Group:
    id: str
    email: str
    name: str
    description: str
    etag: str


@dataclass(frozen=True, slots=True)
class Member:
    """One direct membership: a user or a group (``type`` ``USER`` or ``GROUP``) in a group."""

    id: str
    type: str
    role: str
    etag: str


@dataclass(slots=True)
class Channel:
    """A push notification channel opened by ``users/watch``."""

    id: str
    resource_id: str
    resource_uri: str
    address: str
    token: str | None
    expiration_ms: int
    event: str | None
    """The one event it was opened for; ``None`` (no ``event`` parameter) takes them all."""
    messages: int = 0
    stopped: bool = False

    def live(self, now_ms: int) -> bool:
        return not self.stopped and now_ms < self.expiration_ms

    def headers(self, state: str) -> dict[str, str]:
        """The next message's headers, as Google sends them; counts the message."""
        self.messages += 1
        expiration = datetime.fromtimestamp(self.expiration_ms / 1000, UTC)
        headers = {
            "Content-Type": "application/json; utf-8",
            "X-Goog-Channel-ID": self.id,
            "X-Goog-Channel-Expiration": format_datetime(expiration, usegmt=True),
            "X-Goog-Resource-ID": self.resource_id,
            "X-Goog-Resource-URI": self.resource_uri,
            "X-Goog-Resource-State": state,
            "X-Goog-Message-Number": str(self.messages),
        }
        if self.token is not None:
            headers["X-Goog-Channel-Token"] = self.token
        return headers


@dataclass(frozen=True, slots=True)
class Notification:
    channel_id: str
    address: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Delivery:
    """One notification posted (or tried): the receiver's status, or why there was none."""

    channel_id: str
    state: str
    message_number: int
    status: int | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ServiceAccountKey:
    """A key the fake issued: what it needs to check an assertion signed with it."""

    private_key_id: str
    client_email: str
    client_id: str
    public_key: rsa.RSAPublicKey


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    client_email: str
    """The service account's email; empty for a token of a web application's OAuth client."""
    subject: str | None
    """The user the token acts as (the impersonated or consenting user, by primary email);
    ``None`` for a token of the service account itself."""
    scopes: frozenset[str]
    expires_at: float
    """``time.time()`` from which the API refuses the token."""
    client_id: str = ""
    """The OAuth client's id: the service account's, or the web application's."""


@dataclass(frozen=True, slots=True)
class OAuthClient:
    """An OAuth client of type web application, as created in the Google Cloud console."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AuthorizationCode:
    """What a code stands for, until it is exchanged (once) or expires."""

    client_id: str
    redirect_uri: str
    user_id: str
    scopes: tuple[str, ...]
    """The scopes granted, in the order asked for."""
    offline: bool
    """Whether ``access_type=offline`` was asked for: a refresh token comes with the tokens."""
    expires_at: float
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str = "plain"


@dataclass(frozen=True, slots=True)
class Consent:
    """What a refresh token stands for: a user's consent to a client, for these scopes."""

    client_id: str
    user_id: str
    scopes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    method: str
    path: str
    query: Mapping[str, str]


# Rendering in Google's shapes


def timestamp(moment: datetime) -> str:
    """RFC 3339 with milliseconds, as the Directory API writes times."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def user_resource(
    user: User,
    customer_id: str,
    projection: str = "full",
    custom_mask: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """A user resource (``admin#directory#user``); ``customSchemas`` only for the projections
    ``full`` (all of them) and ``custom`` (those in the mask), as Google does."""
    resource: dict[str, Any] = {
        "kind": "admin#directory#user",
        "id": user.id,
        "etag": user.etag,
        "primaryEmail": user.primary_email,
        "name": {
            "givenName": user.given_name,
            "familyName": user.family_name,
            "fullName": f"{user.given_name} {user.family_name}".strip(),
        },
        "isAdmin": user.is_admin,
        "isDelegatedAdmin": False,
        "lastLoginTime": "1970-01-01T00:00:00.000Z",
        "creationTime": user.creation_time,
        "agreedToTerms": True,
        "suspended": user.suspended,
        "archived": user.archived,
        "changePasswordAtNextLogin": False,
        "ipWhitelisted": False,
        "emails": [
            {"address": email, "primary": True}
            if email == user.primary_email
            else {"address": email}
            for email in user.emails
        ],
        "customerId": customer_id,
        "orgUnitPath": user.org_unit_path,
        "isMailboxSetup": True,
        "isEnrolledIn2Sv": False,
        "isEnforcedIn2Sv": False,
        "includeInGlobalAddressList": True,
    }
    if user.suspended:
        resource["suspensionReason"] = "ADMIN"
    if user.aliases:
        resource["aliases"] = list(user.aliases)
    if user.title or user.department or user.cost_center:
        organization = {"title": user.title, "department": user.department}
        organization = {name: value for name, value in organization.items() if value}
        if user.cost_center:
            organization["costCenter"] = user.cost_center
        resource["organizations"] = [{**organization, "primary": True, "customType": ""}]
    if user.manager:
        resource["relations"] = [{"value": user.manager, "type": "manager"}]
    if user.employee_id:
        resource["externalIds"] = [{"value": user.employee_id, "type": "organization"}]
    if user.phone:
        resource["phones"] = [{"value": user.phone, "type": "work"}]
    if projection == "full":
        schemas = user.custom_schemas
    elif projection == "custom":
        schemas = {
            name: value for name, value in user.custom_schemas.items() if name in custom_mask
        }
    else:
        schemas = {}
    if schemas:
        resource["customSchemas"] = {name: dict(value) for name, value in schemas.items()}
    return resource


def group_resource(group: Group, direct_members: int) -> dict[str, Any]:
    return {
        "kind": "admin#directory#group",
        "id": group.id,
        "etag": group.etag,
        "email": group.email,
        "name": group.name,
        # An int64, which Google's JSON writes as a string.
        "directMembersCount": str(direct_members),
        "description": group.description,
        "adminCreated": True,
    }


def member_resource(member: Member, email: str, suspended: bool) -> dict[str, Any]:
    return {
        "kind": "admin#directory#member",
        "etag": member.etag,
        "id": member.id,
        "email": email,
        "role": member.role,
        "type": member.type,
        "status": "SUSPENDED" if suspended else "ACTIVE",
    }


def list_etag(items: Iterable[Mapping[str, Any]]) -> str:
    digest = hashlib.sha256("".join(str(item.get("etag")) for item in items).encode())
    return f'"{_b64(digest.digest()[:20])}"'


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# The state


class Outbox:
    """Notifications waiting to be posted, in order; the server's courier thread posts them."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._waiting: deque[Notification] = deque()
        self._unfinished = 0

    def put(self, notification: Notification) -> None:
        with self._changed:
            self._waiting.append(notification)
            self._unfinished += 1
            self._changed.notify_all()

    def take(self, timeout: float) -> Notification | None:
        with self._changed:
            if not self._waiting:
                self._changed.wait(timeout)
            return self._waiting.popleft() if self._waiting else None

    def done(self) -> None:
        with self._changed:
            self._unfinished -= 1
            self._changed.notify_all()

    def wait_until_empty(self, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self._unfinished == 0, timeout)


class Workspace:
    """One Google Workspace customer: its directory, credentials, quotas and watch channels.

    Thread-safe: the server's threads and the test change and read it concurrently. User and
    group keys are, as in Google's API, an id or an email address (an alias will do); the
    methods that change the directory also take an address's name in the domain (``"alice"``).
    """

    def __init__(self, customer_id: str = "C0fake123", domain: str = "example.com") -> None:
        self.customer_id = customer_id
        self.domain = domain
        self.token_uri = GOOGLE_TOKEN_URI
        """Where keys made from now on send their assertions: the fake's ``/token`` once served."""
        self.tokens_expire_immediately = False
        """When set, tokens are issued (``expires_in`` 3599 as ever) but the API refuses them."""
        self.consenting_user: str | None = None
        """Who signs in at the consent screen and approves (an email, or a name in the domain);
        with ``None``, or someone not an active user of the workspace, the app is told
        ``access_denied``."""
        self.deny_consent = False
        """When set, the person at the consent screen clicks Cancel: ``access_denied``."""

        self.token_requests = 0
        self.requests_served = 0
        """Directory API requests answered, whatever the answer."""
        self.failures_served = 0
        """Of those, how many were injected failures (``fail_requests``, ``rate_limit``)."""
        self.request_log: list[LoggedRequest] = []
        self.deliveries: list[Delivery] = []
        self.outbox = Outbox()

        self._lock = threading.RLock()
        self._serial = 0
        self._users: dict[str, User] = {}
        self._deleted: dict[str, User] = {}
        self._user_ids: dict[str, str] = {}
        """Every email (primary and aliases, lower case) of every user, to its user's id."""
        self._groups: dict[str, Group] = {}
        self._group_ids: dict[str, str] = {}
        self._members: dict[str, dict[str, Member]] = {}
        """Each group's direct members, by member id."""
        self._org_units: set[str] = {"/"}

        self._accounts: dict[str, str] = {}
        """Each service account's email to its client id."""
        self._keys: dict[str, ServiceAccountKey] = {}
        self._delegations: dict[str, frozenset[str]] = {}
        self._tokens: dict[str, IssuedToken] = {}

        self._clients: dict[str, OAuthClient] = {}
        self._codes: dict[str, AuthorizationCode] = {}
        self._consents: dict[str, Consent] = {}
        """Each live refresh token's consent."""
        self._consent_tokens: dict[str, str] = {}
        """Each access token issued on a consent that has a refresh token, to that token."""
        self._id_token_key: tuple[str, rsa.RSAPrivateKey] | None = None
        """The key signing ID tokens, and its key id; made when first needed."""

        self._failures: deque[ApiError] = deque()
        self._per_second: int | None = None
        self._admitted: deque[float] = deque()
        self._channels: dict[str, Channel] = {}

    # Users

    def add_user(
        self,
        email: str,
        given_name: str | None = None,
        family_name: str = "User",
        *,
        org_unit_path: str = "/",
        is_admin: bool = False,
        suspended: bool = False,
        archived: bool = False,
        title: str = "",
        department: str = "",
        cost_center: str = "",
        employee_id: str = "",
        manager: str = "",
        phone: str = "",
        aliases: Iterable[str] = (),
        custom_schemas: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Creates a user and answers its resource; an email without ``@`` is in the domain."""
        email = self._address(email)
        with self._lock:
            user = User(
                id=self._next_user_id(),
                primary_email=email,
                given_name=given_name or email.split("@")[0].capitalize(),
                family_name=family_name,
                creation_time=timestamp(EPOCH + timedelta(minutes=self._serial)),
                etag=self._etag(),
                org_unit_path=_org_unit(org_unit_path),
                is_admin=is_admin,
                suspended=suspended,
                archived=archived,
                title=title,
                department=department,
                cost_center=cost_center,
                employee_id=employee_id,
                manager=manager,
                phone=phone,
                aliases=tuple(self._address(alias) for alias in aliases),
                custom_schemas=dict(custom_schemas or {}),
            )
            self._index_user(user)
            self._notify("add", user)
            return user_resource(user, self.customer_id)

    def update_user(self, user_key: str, **changes: Any) -> dict[str, Any]:
        """Changes fields of ``User`` (``suspended=True``, ``org_unit_path="/Sales"``...);
        a new etag, and notifications ``update`` (and ``makeAdmin`` when ``is_admin`` changes).
        """
        unknown = set(changes) - USER_FIELDS
        if unknown:
            raise TypeError(f"not a changeable user field: {', '.join(sorted(unknown))}")
        if "primary_email" in changes:
            changes["primary_email"] = self._address(changes["primary_email"])
        if "aliases" in changes:
            changes["aliases"] = tuple(self._address(alias) for alias in changes["aliases"])
        if "org_unit_path" in changes:
            changes["org_unit_path"] = _org_unit(changes["org_unit_path"])
        with self._lock:
            user = self._user(user_key)
            for email in user.emails:
                del self._user_ids[email.lower()]
            updated = replace(user, **changes, etag=self._etag())
            try:
                self._index_user(updated)
            except ValueError:
                self._index_user(user)
                raise
            self._notify("update", updated)
            if updated.is_admin != user.is_admin:
                self._notify("makeAdmin", updated)
            return user_resource(updated, self.customer_id)

    def suspend_user(self, user_key: str) -> dict[str, Any]:
        return self.update_user(user_key, suspended=True)

    def move_user(self, user_key: str, org_unit_path: str) -> dict[str, Any]:
        return self.update_user(user_key, org_unit_path=org_unit_path)

    def delete_user(self, user_key: str) -> None:
        """Deletes a user, and its memberships, as Google does; ``undelete_user`` brings the user
        back (without them), and ``users?showDeleted=true`` lists it meanwhile."""
        with self._lock:
            user = self._user(user_key)
            del self._users[user.id]
            for email in user.emails:
                del self._user_ids[email.lower()]
            for group_id, members in self._members.items():
                if members.pop(user.id, None) is not None:
                    self._touch_group(group_id)
            deleted = replace(user, etag=self._etag())
            self._deleted[user.id] = deleted
            self._notify("delete", deleted)

    def offboard(self, users: Sequence[User], moved_to: str = "/Contractors") -> None:
        """Each third of ``users`` leaves a way of its own: suspended, moved to the org unit
        ``moved_to``, deleted (a rehearsal's and a benchmark's leavers)."""
        for user in users[0::3]:
            self.suspend_user(user.id)
        for user in users[1::3]:
            self.move_user(user.id, moved_to)
        for user in users[2::3]:
            self.delete_user(user.id)

    def undelete_user(self, user_key: str) -> dict[str, Any]:
        """Brings back a deleted user, by id or by its primary email."""
        with self._lock:
            found = self._deleted.get(user_key) or next(
                (u for u in self._deleted.values() if u.primary_email == self._address(user_key)),
                None,
            )
            if found is None:
                raise KeyError(f"no deleted user {user_key!r}")
            user = replace(found, etag=self._etag())
            self._index_user(user)
            del self._deleted[user.id]
            self._notify("undelete", user)
            return user_resource(user, self.customer_id)

    def get_user(self, user_key: str) -> User | None:
        with self._lock:
            user_id = self._user_ids.get(user_key.lower(), user_key)
            return self._users.get(user_id)

    def users(self, *, deleted: bool = False) -> list[User]:
        """A snapshot of the users (or of the deleted users), in no particular order."""
        with self._lock:
            return list((self._deleted if deleted else self._users).values())

    @property
    def admins(self) -> frozenset[str]:
        """The users a service account may impersonate to read the directory: its admins."""
        with self._lock:
            return frozenset(u.primary_email for u in self._users.values() if u.is_admin)

    @property
    def org_units(self) -> list[str]:
        """The org units the users imply (with their parents), and those ``populate`` named."""
        with self._lock:
            return sorted(self._org_units)

    # Groups

    def add_group(
        self, email: str, name: str | None = None, description: str = ""
    ) -> dict[str, Any]:
        email = self._address(email)
        with self._lock:
            if email in self._group_ids or email in self._user_ids:
                raise ValueError(f"{email} is taken")
            self._serial += 1
            group = Group(
                id=f"03{self._serial:013x}",
                email=email,
                name=name or email.split("@")[0],
                description=description,
                etag=self._etag(),
            )
            self._groups[group.id] = group
            self._group_ids[email] = group.id
            self._members[group.id] = {}
            return group_resource(group, 0)

    def add_member(self, group_key: str, member_key: str, role: str = "MEMBER") -> dict[str, Any]:
        """Adds a user, or a group (a nested group, of type ``GROUP``), to a group."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        with self._lock:
            group = self._group(group_key)
            user = self._find_user(member_key)
            if user is not None:
                member = Member(user.id, "USER", role, self._etag())
                email, suspended = user.primary_email, user.suspended
            else:
                nested = self._group(member_key)
                if nested.id == group.id:
                    raise ValueError("a group cannot be a member of itself")
                member = Member(nested.id, "GROUP", role, self._etag())
                email, suspended = nested.email, False
            self._members[group.id][member.id] = member
            self._touch_group(group.id)
            return member_resource(member, email, suspended)

    def remove_member(self, group_key: str, member_key: str) -> None:
        with self._lock:
            group = self._group(group_key)
            user = self._find_user(member_key)
            member_id = user.id if user is not None else self._group(member_key).id
            if self._members[group.id].pop(member_id, None) is None:
                raise KeyError(f"{member_key!r} is not a member of {group_key!r}")
            self._touch_group(group.id)

    def get_group(self, group_key: str) -> Group | None:
        with self._lock:
            return self._groups.get(self._group_ids.get(group_key.lower(), group_key))

    def groups(self) -> list[tuple[Group, int]]:
        """A snapshot of the groups, each with its count of direct members."""
        with self._lock:
            return [(g, len(self._members[g.id])) for g in self._groups.values()]

    def members(self, group_id: str, *, derived: bool = False) -> list[dict[str, Any]]:
        """A group's members as resources; with ``derived``, also the users of nested groups
        (each once), as ``includeDerivedMembership`` lists them."""
        with self._lock:
            direct = list(self._members[group_id].values())
            listed = [m.id for m in direct]
            if derived:
                seen, nested = {group_id}, [m.id for m in direct if m.type == "GROUP"]
                while nested:
                    inner = nested.pop()
                    if inner in seen:
                        continue
                    seen.add(inner)
                    for member in self._members[inner].values():
                        if member.type == "GROUP":
                            nested.append(member.id)
                        elif member.id not in listed:
                            listed.append(member.id)
                            direct.append(replace(member, role="MEMBER"))
            resources = []
            for member in direct:
                if member.type == "USER":
                    user = self._users[member.id]
                    resources.append(member_resource(member, user.primary_email, user.suspended))
                else:
                    resources.append(member_resource(member, self._groups[member.id].email, False))
            return resources

    def groups_of(self, user_id: str) -> list[tuple[Group, int]]:
        """The groups a user is a direct member of, as ``groups?userKey=`` lists them."""
        with self._lock:
            return [
                (self._groups[group_id], len(members))
                for group_id, members in self._members.items()
                if user_id in members
            ]

    # Large directories

    def populate(
        self,
        users: int,
        groups: int = 0,
        members_per_group: int = 0,
        org_units: Iterable[str] = ("/",),
    ) -> None:
        """Adds ``users`` users, spread over ``org_units`` in turn, and ``groups`` groups of
        ``members_per_group`` of them (the first one ``OWNER``). The same calls on a new
        workspace give the same directory. Users come with titles, departments, managers
        and employee ids; none is an admin. No notifications are sent, as if the directory
        were there before anyone watched it.
        """
        units = [_org_unit(unit) for unit in org_units] or ["/"]
        with self._lock:
            added: list[User] = []
            for index in range(users):
                self._serial += 1
                serial = self._serial
                unit = units[index % len(units)]
                given = GIVEN_NAMES[index % len(GIVEN_NAMES)]
                family = FAMILY_NAMES[index // len(GIVEN_NAMES) % len(FAMILY_NAMES)]
                email = f"{given}.{family}.{serial}@{self.domain}".lower()
                user = User(
                    id=f"1{serial:020d}",
                    primary_email=email,
                    given_name=given,
                    family_name=family,
                    creation_time=timestamp(EPOCH + timedelta(minutes=serial)),
                    etag=self._etag(),
                    org_unit_path=unit,
                    title=TITLES[index % len(TITLES)],
                    department=unit.rsplit("/", 1)[-1] or "General",
                    cost_center=f"CC{index % len(units):03d}",
                    employee_id=f"E{serial:07d}",
                    # The first user of each run of fifty manages the others.
                    manager=added[index - index % 50].primary_email if index % 50 else "",
                )
                self._users[user.id] = user
                self._user_ids[email] = user.id
                added.append(user)
            self._org_units.update(unit for path in units for unit in _lineage(path))
            for number in range(groups):
                group = self.add_group(f"group-{self._serial + 1}", f"Group {number + 1}")
                members = self._members[group["id"]]
                for slot in range(min(members_per_group, len(added))):
                    user = added[(number * members_per_group + slot) % len(added)]
                    role = "OWNER" if slot == 0 else "MEMBER"
                    members[user.id] = Member(user.id, "USER", role, self._etag())
                self._touch_group(group["id"])

    # Credentials

    def service_account_key(
        self, client_email: str = "directory-sync@scimgate-test.iam.gserviceaccount.com"
    ) -> dict[str, str]:
        """A new RSA key of a service account, as the JSON key file Google issues holds it.

        Keys of one service account share its ``client_id``, the id delegation is granted
        to. The key's ``token_uri`` is this fake's once it is served: make keys after that.
        """
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        with self._lock:
            if client_email not in self._accounts:
                self._accounts[client_email] = str(
                    100_000_000_000_000_000_000 + len(self._accounts)
                )
            client_id = self._accounts[client_email]
            key_id = secrets.token_hex(20)
            self._keys[key_id] = ServiceAccountKey(
                key_id, client_email, client_id, private_key.public_key()
            )
        project = client_email.split("@")[1].split(".")[0]
        return {
            "type": "service_account",
            "project_id": project,
            "private_key_id": key_id,
            "private_key": pem,
            "client_email": client_email,
            "client_id": client_id,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": (
                f"https://www.googleapis.com/robot/v1/metadata/x509/{quote(client_email)}"
            ),
            "universe_domain": "googleapis.com",
        }

    def revoke_key(self, private_key_id: str) -> None:
        """Deletes a key, as in the Cloud console: its assertions no longer verify."""
        with self._lock:
            del self._keys[private_key_id]

    def grant_delegation(self, client_id: str, scopes: Iterable[str]) -> None:
        """Domain-wide delegation as an admin grants it (Admin console > Security > API
        controls): the client id may impersonate users for these scopes. Replaces any grant."""
        with self._lock:
            self._delegations[client_id] = frozenset(scopes)

    def revoke_delegation(self, client_id: str) -> None:
        with self._lock:
            self._delegations.pop(client_id, None)

    def expire_tokens(self) -> None:
        """Every token issued so far is refused from now on."""
        with self._lock:
            now = time.time()
            self._tokens = {t: replace(i, expires_at=now) for t, i in self._tokens.items()}

    @property
    def issued_tokens(self) -> list[IssuedToken]:
        with self._lock:
            return list(self._tokens.values())

    def exchange(self, form: Mapping[str, str], authorization: str | None = None) -> dict[str, Any]:
        """The token endpoint: tokens for one of the grants below, or ``TokenError``.

        ``grant_type`` is the JWT bearer grant of a service account, or, for a web
        application's OAuth client, ``authorization_code`` or ``refresh_token``. Such a client
        authenticates with ``client_id`` and ``client_secret`` in the form, or with HTTP Basic
        in ``authorization`` (the request's ``Authorization`` header).
        """
        with self._lock:
            self.token_requests += 1
        grant_type = form.get("grant_type", "")
        if grant_type == JWT_BEARER:
            return self._exchange_assertion(form)
        if grant_type == "authorization_code":
            return self._exchange_code(form, self._oauth_client(form, authorization))
        if grant_type == "refresh_token":
            return self._exchange_refresh_token(form, self._oauth_client(form, authorization))
        raise TokenError(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    def _exchange_assertion(self, form: Mapping[str, str]) -> dict[str, Any]:
        """A JWT bearer grant: checks what Google checks of a service account's assertion.

        The signature (by a key this fake issued, of the ``iss`` account), ``aud``, ``iat`` and
        ``exp``, a ``scope``; and with a ``sub`` (domain-wide delegation), that the subject is
        an active user of the domain and that every scope was delegated to the account's client
        id. Whether the subject is an admin is the API's concern, as at Google: it answers 403.
        """
        assertion = form.get("assertion")
        if not assertion:
            raise TokenError(400, "invalid_request", "Missing required parameter: assertion")
        claims, key = self._verify(assertion)
        audience = claims.get("aud")
        if audience not in GOOGLE_AUDIENCES and audience != self.token_uri:
            raise TokenError(
                400,
                "invalid_grant",
                f"Invalid JWT: Failed audience check. The right audience is {GOOGLE_TOKEN_URI}",
            )
        issued, expires, now = claims.get("iat"), claims.get("exp"), time.time()
        if not (
            isinstance(issued, int)
            and isinstance(expires, int)
            and issued <= now + CLOCK_SKEW
            and now < expires
            and 0 < expires - issued <= 3600
        ):
            raise TokenError(
                400,
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
                "timeframe. Check your iat and exp values in the JWT claim.",
            )
        scope = claims.get("scope")
        scopes = frozenset(scope.split()) if isinstance(scope, str) else frozenset()
        if not scopes:
            raise TokenError(400, "invalid_scope", "Empty or missing scope not allowed.")
        subject = claims.get("sub")
        with self._lock:
            if subject is not None:
                user = self.get_user(str(subject))
                if user is None or user.suspended:
                    raise TokenError(400, "invalid_grant", "Invalid email or User ID")
                subject = user.primary_email
                if not scopes <= self._delegations.get(key.client_id, frozenset()):
                    raise TokenError(401, "unauthorized_client", UNAUTHORIZED_CLIENT)
            token = self._issue(key.client_email, key.client_id, subject, scopes)
        return {
            "access_token": token.access_token,
            "expires_in": TOKEN_SECONDS,
            "token_type": "Bearer",
        }

    def _issue(
        self, client_email: str, client_id: str, subject: str | None, scopes: frozenset[str]
    ) -> IssuedToken:
        """A new access token, which the API takes until it expires; under the lock."""
        now = time.time()
        token = IssuedToken(
            access_token=f"ya29.{secrets.token_urlsafe(48)}",
            client_email=client_email,
            subject=subject,
            scopes=scopes,
            expires_at=now if self.tokens_expire_immediately else now + TOKEN_SECONDS,
            client_id=client_id,
        )
        self._tokens[token.access_token] = token
        return token

    def _verify(self, assertion: str) -> tuple[dict[str, Any], ServiceAccountKey]:
        """The claims of an RS256 assertion signed by a key this fake issued to its ``iss``."""
        try:
            header_part, claims_part, signature_part = assertion.split(".")
            header = json.loads(_unb64(header_part))
            claims = json.loads(_unb64(claims_part))
            signature = _unb64(signature_part)
        except ValueError as error:  # Also binascii.Error and json.JSONDecodeError.
            raise invalid_signature() from error
        if not (isinstance(header, dict) and isinstance(claims, dict)):
            raise invalid_signature()
        if header.get("alg") != "RS256":
            raise invalid_signature()
        with self._lock:
            if "kid" in header:
                candidates = [self._keys[header["kid"]]] if header["kid"] in self._keys else []
            else:
                candidates = list(self._keys.values())
        signed = f"{header_part}.{claims_part}".encode()
        for key in candidates:
            if key.client_email != claims.get("iss"):
                continue
            try:
                key.public_key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
            except InvalidSignature:
                continue
            return claims, key
        raise invalid_signature()

    def authorize(self, authorization: str | None, accepted: frozenset[str]) -> IssuedToken:
        """The token of a Directory API request, if it may make it; else the ``ApiError``."""
        scheme, _, access_token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not access_token.strip():
            raise ApiError(
                401,
                f"Request is missing required authentication credential. {CREDENTIALS_HELP}",
                "required",
                location="Authorization",
                locationType="header",
                headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
            )
        with self._lock:
            token = self._tokens.get(access_token.strip())
            if token is None or time.time() >= token.expires_at:
                raise ApiError(
                    401,
                    f"Request had invalid authentication credentials. {CREDENTIALS_HELP}",
                    "authError",
                    location="Authorization",
                    locationType="header",
                    headers={
                        "WWW-Authenticate": (
                            'Bearer realm="https://accounts.google.com/", error="invalid_token"'
                        )
                    },
                )
            if not token.scopes & accepted:
                raise ApiError(
                    403,
                    "Request had insufficient authentication scopes.",
                    "insufficientPermissions",
                    headers={
                        "WWW-Authenticate": (
                            'Bearer realm="https://accounts.google.com/", '
                            f'error="insufficient_scope", scope="{" ".join(sorted(accepted))}"'
                        )
                    },
                )
            subject = self.get_user(token.subject) if token.subject else None
            if subject is None or not subject.is_admin:
                raise not_authorized()
            return token

    # Consent: OAuth 2.0 for web server applications

    def register_oauth_client(
        self, client_id: str, client_secret: str, redirect_uris: Iterable[str]
    ) -> None:
        """An OAuth client of type web application, as an operator creates it in the Google
        Cloud console (APIs & Services > Credentials): its id, its secret and its authorized
        redirect URIs, which requests must name exactly. Registering an id again replaces it."""
        if isinstance(redirect_uris, str):
            raise TypeError("redirect_uris is a collection of URIs, not one")
        with self._lock:
            self._clients[client_id] = OAuthClient(client_id, client_secret, tuple(redirect_uris))

    def consent(self, params: Mapping[str, str]) -> str:
        """The authorization endpoint: where the browser is sent back to, once the consent
        screen (simulated) is done; or ``AuthorizationError``, Google's error page, for a
        request it refuses outright (a client, redirect URI, response type or scope amiss).

        The person at the screen is ``consenting_user``, who approves unless ``deny_consent``.
        Approval sends them to the redirect URI with ``state``, a ``code`` for the scopes
        asked for, those ``scope``, ``authuser`` and ``prompt``; else with ``error`` (and
        ``state``). A code is exchanged once, within ten minutes, by its client and with its
        redirect URI; with ``access_type=offline`` the exchange gives a refresh token too.
        """
        client_id = params.get("client_id")
        if not client_id:
            raise AuthorizationError(
                400, "invalid_request", "Missing required parameter: client_id"
            )
        with self._lock:
            client = self._clients.get(client_id)
        if client is None:
            raise AuthorizationError(401, "invalid_client", "The OAuth client was not found.")
        redirect_uri = params.get("redirect_uri")
        if not redirect_uri:
            raise AuthorizationError(
                400, "invalid_request", "Missing required parameter: redirect_uri"
            )
        if redirect_uri not in client.redirect_uris:
            raise AuthorizationError(
                400,
                "redirect_uri_mismatch",
                "The redirect URI is not one of the OAuth client's authorized redirect URIs; "
                "whoever develops the app registers it in the Google Cloud console.",
            )
        response_type = params.get("response_type")
        if not response_type:
            raise AuthorizationError(
                400, "invalid_request", "Required parameter is missing: response_type"
            )
        if response_type != "code":
            raise AuthorizationError(
                400, "unsupported_response_type", f"Invalid response_type: {response_type}"
            )
        scopes = _scope_list(params.get("scope", ""))
        if not scopes:
            raise AuthorizationError(400, "invalid_request", "Missing required parameter: scope")
        invalid = [
            scope
            for scope in scopes
            if scope not in IDENTITY_SCOPES and not scope.startswith("https://")
        ]
        if invalid:
            raise AuthorizationError(
                400,
                "invalid_scope",
                f"Some requested scopes were invalid. {{invalid=[{', '.join(invalid)}]}}",
            )
        access_type = params.get("access_type", "online")
        if access_type not in ("online", "offline"):
            raise AuthorizationError(400, "invalid_request", f"Invalid access_type: {access_type}")
        prompts = set(params.get("prompt", "").split())
        if not prompts <= PROMPTS or ("none" in prompts and len(prompts) > 1):
            raise AuthorizationError(
                400, "invalid_request", f"Invalid prompt: {params.get('prompt')}"
            )
        challenge = params.get("code_challenge")
        method = params.get("code_challenge_method", "plain")
        if method not in ("S256", "plain") or (
            challenge is None and "code_challenge_method" in params
        ):
            raise AuthorizationError(
                400, "invalid_request", f"Invalid code_challenge_method: {method}"
            )

        state = [("state", params["state"])] if "state" in params else []
        with self._lock:
            user = self._active_user(self.consenting_user)
            if self.deny_consent or user is None:
                return _with_query(redirect_uri, [("error", "access_denied"), *state])
            code = f"4/0A{secrets.token_urlsafe(48)}"
            self._codes[code] = AuthorizationCode(
                client_id=client.client_id,
                redirect_uri=redirect_uri,
                user_id=user.id,
                scopes=scopes,
                offline=access_type == "offline",
                expires_at=time.time() + CODE_SECONDS,
                nonce=params.get("nonce"),
                code_challenge=challenge,
                code_challenge_method=method,
            )
        return _with_query(
            redirect_uri,
            [
                *state,
                ("code", code),
                ("scope", " ".join(scopes)),
                ("authuser", "0"),
                ("prompt", "consent"),
            ],
        )

    def expire_authorization_codes(self) -> None:
        """Every authorization code not yet exchanged is refused from now on (as ten minutes
        later)."""
        with self._lock:
            now = time.time()
            self._codes = {c: replace(code, expires_at=now) for c, code in self._codes.items()}

    def revoke_refresh_tokens(self) -> None:
        """Every refresh token issued so far is revoked, as when the consenting user or an
        administrator removes the app's access: refreshing answers ``invalid_grant``, and the
        API refuses the access tokens got on those consents."""
        with self._lock:
            for refresh_token in list(self._consents):
                self._revoke_consent(refresh_token)

    def revoke(self, token: str) -> None:
        """The revocation endpoint: revokes a refresh token, or an access token; either way,
        a consent's refresh token and the access tokens got on it all go. ``TokenError`` for a
        token unknown, expired or revoked already."""
        with self._lock:
            issued = self._tokens.get(token)
            if token in self._consents:
                self._revoke_consent(token)
            elif issued is not None and time.time() < issued.expires_at:
                refresh_token = self._consent_tokens.get(token)
                if refresh_token is not None:
                    self._revoke_consent(refresh_token)
                else:
                    del self._tokens[token]
            else:
                raise TokenError(400, "invalid_token", "Token expired or revoked")

    def id_token_keys(self) -> dict[str, Any]:
        """The JSON Web Key Set of the keys that sign ID tokens, as ``/oauth2/v3/certs``."""
        key_id, key = self._signing_key()
        numbers = key.public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "alg": "RS256",
                    "use": "sig",
                    "kid": key_id,
                    "n": _b64(_unsigned(numbers.n)),
                    "e": _b64(_unsigned(numbers.e)),
                }
            ]
        }

    def _oauth_client(self, form: Mapping[str, str], authorization: str | None) -> OAuthClient:
        """The web application's client that authenticated the token request, by its id and
        secret in the form (``client_secret_post``) or with HTTP Basic (``client_secret_basic``,
        whose parts are form-encoded)."""
        scheme, _, credentials = (authorization or "").partition(" ")
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credentials.strip(), validate=True).decode()
            except ValueError as error:  # Also binascii.Error and UnicodeDecodeError.
                raise unauthorized_client_secret() from error
            named, colon, secret = decoded.partition(":")
            if not colon:
                raise unauthorized_client_secret()
            client_id: str | None = unquote_plus(named)
            client_secret: str | None = unquote_plus(secret)
            if form.get("client_id", client_id) != client_id:
                raise unauthorized_client_secret()
        else:
            client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if not client_id:
            raise TokenError(400, "invalid_request", "Could not determine client ID from request.")
        with self._lock:
            client = self._clients.get(client_id)
        if client is None:
            raise TokenError(401, "invalid_client", "The OAuth client was not found.")
        if not client_secret:
            raise TokenError(400, "invalid_request", "client_secret is missing.")
        if not secrets.compare_digest(client_secret.encode(), client.client_secret.encode()):
            raise unauthorized_client_secret()
        return client

    def _exchange_code(self, form: Mapping[str, str], client: OAuthClient) -> dict[str, Any]:
        """An authorization code grant: the code's tokens, if the code is the client's, live,
        not used yet, and the redirect URI the one it was sent to; the code is spent either
        way. A refresh token for an offline request, an ID token for the ``openid`` scope."""
        code = form.get("code")
        if not code:
            raise TokenError(400, "invalid_request", "Missing required parameter: code")
        redirect_uri = form.get("redirect_uri")
        if not redirect_uri:
            raise TokenError(400, "invalid_request", "Missing parameter: redirect_uri")
        with self._lock:
            issued = self._codes.pop(code, None)
            if (
                issued is None
                or issued.client_id != client.client_id
                or issued.redirect_uri != redirect_uri
                or time.time() >= issued.expires_at
            ):
                raise bad_grant()
            if issued.code_challenge is not None:
                verifier = form.get("code_verifier")
                if not verifier:
                    raise TokenError(400, "invalid_grant", "Missing code verifier.")
                if issued.code_challenge_method == "S256":
                    verifier = _b64(hashlib.sha256(verifier.encode()).digest())
                if not secrets.compare_digest(verifier.encode(), issued.code_challenge.encode()):
                    raise TokenError(400, "invalid_grant", "Invalid code verifier.")
            user = self._active_user(issued.user_id)
            if user is None:
                raise bad_grant()
            token = self._issue("", client.client_id, user.primary_email, frozenset(issued.scopes))
            answer: dict[str, Any] = {
                "access_token": token.access_token,
                "expires_in": TOKEN_SECONDS,
            }
            if issued.offline:
                refresh_token = f"1//0{secrets.token_urlsafe(72)}"
                self._consents[refresh_token] = Consent(client.client_id, user.id, issued.scopes)
                self._consent_tokens[token.access_token] = refresh_token
                answer["refresh_token"] = refresh_token
        answer |= {"scope": " ".join(issued.scopes), "token_type": "Bearer"}
        if "openid" in issued.scopes:
            answer["id_token"] = self._id_token(client, user, issued, token.access_token)
        return answer

    def _exchange_refresh_token(
        self, form: Mapping[str, str], client: OAuthClient
    ) -> dict[str, Any]:
        """A refresh token grant: a new access token on the consent, for its scopes or, with a
        ``scope`` parameter, for those of them asked for."""
        refresh_token = form.get("refresh_token")
        if not refresh_token:
            raise TokenError(400, "invalid_request", "Missing required parameter: refresh_token")
        with self._lock:
            consent = self._consents.get(refresh_token)
            if consent is None:
                raise revoked()
            if consent.client_id != client.client_id:
                raise TokenError(401, "unauthorized_client", "Unauthorized")
            user = self._active_user(consent.user_id)
            if user is None:
                raise revoked()
            scopes = consent.scopes
            if "scope" in form:
                scopes = _scope_list(form["scope"])
                if not scopes or not set(scopes) <= set(consent.scopes):
                    raise TokenError(400, "invalid_scope", "Bad Request")
            token = self._issue("", client.client_id, user.primary_email, frozenset(scopes))
            self._consent_tokens[token.access_token] = refresh_token
        return {
            "access_token": token.access_token,
            "expires_in": TOKEN_SECONDS,
            "scope": " ".join(scopes),
            "token_type": "Bearer",
        }

    def _id_token(
        self, client: OAuthClient, user: User, code: AuthorizationCode, access_token: str
    ) -> str:
        """An ID token of the user for the client, signed RS256 as Google signs them: the
        ``email`` claims with the ``email`` scope, the names with ``profile``."""
        now = int(time.time())
        digest = hashlib.sha256(access_token.encode()).digest()
        claims: dict[str, Any] = {
            "iss": GOOGLE_ISSUER,
            "azp": client.client_id,
            "aud": client.client_id,
            "sub": user.id,
            "hd": user.primary_email.rsplit("@", 1)[1],
        }
        if "email" in code.scopes:
            claims |= {"email": user.primary_email, "email_verified": True}
        claims["at_hash"] = _b64(digest[: len(digest) // 2])
        if code.nonce is not None:
            claims["nonce"] = code.nonce
        if "profile" in code.scopes:
            claims |= {
                "name": f"{user.given_name} {user.family_name}".strip(),
                "given_name": user.given_name,
                "family_name": user.family_name,
            }
        claims |= {"iat": now, "exp": now + ID_TOKEN_SECONDS}
        key_id, key = self._signing_key()
        header = {"alg": "RS256", "kid": key_id, "typ": "JWT"}
        signed = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = key.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signed}.{_b64(signature)}"

    def _signing_key(self) -> tuple[str, rsa.RSAPrivateKey]:
        with self._lock:
            if self._id_token_key is None:
                key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                self._id_token_key = (secrets.token_hex(20), key)
            return self._id_token_key

    def _active_user(self, user_key: str | None) -> User | None:
        """The user, if one who may sign in: neither suspended nor archived."""
        user = self._find_user(user_key) if user_key else None
        return user if user is not None and not (user.suspended or user.archived) else None

    def _revoke_consent(self, refresh_token: str) -> None:
        """Revokes a refresh token and the access tokens got on its consent; under the lock."""
        del self._consents[refresh_token]
        for access_token, granted_by in list(self._consent_tokens.items()):
            if granted_by == refresh_token:
                del self._consent_tokens[access_token]
                self._tokens.pop(access_token, None)

    # Quotas and the request log

    def fail_requests(
        self, count: int, status: int = 403, reason: str = "userRateLimitExceeded"
    ) -> None:
        """The next ``count`` Directory API requests (past the token check) fail this way:
        403 or 429 ``userRateLimitExceeded``, ``rateLimitExceeded`` or ``quotaExceeded``;
        503 ``backendError``; 500 ``internalError``."""
        domain, message = FAILURES[reason]
        with self._lock:
            self._failures.extend(
                ApiError(status, message, reason, domain=domain) for _ in range(count)
            )

    def rate_limit(self, per_second: int | None) -> None:
        """At most this many Directory API requests a second (a sliding window); those past it
        get 403 ``userRateLimitExceeded``. ``None`` lifts the limit."""
        with self._lock:
            self._per_second = per_second
            self._admitted.clear()

    def record(self, method: str, path: str, query: Mapping[str, str]) -> None:
        with self._lock:
            self.request_log.append(LoggedRequest(method, path, dict(query)))
            if path.startswith(("/admin/directory/", "/admin/directory_v1/")):
                self.requests_served += 1

    def admit(self) -> None:
        """Lets a Directory API request through, or raises the failure it gets instead."""
        with self._lock:
            if self._failures:
                self.failures_served += 1
                raise self._failures.popleft()
            if self._per_second is not None:
                now = time.monotonic()
                while self._admitted and self._admitted[0] <= now - 1:
                    self._admitted.popleft()
                if len(self._admitted) >= self._per_second:
                    self.failures_served += 1
                    domain, message = FAILURES["userRateLimitExceeded"]
                    raise ApiError(403, message, "userRateLimitExceeded", domain=domain)
                self._admitted.append(now)

    # Watch channels

    def open_channel(self, channel: Channel) -> None:
        """Opens a channel, and sends its first message, of state ``sync``."""
        with self._lock:
            if channel.id in self._channels:
                raise ApiError(400, f"Channel id {channel.id} not unique", "channelIdNotUnique")
            self._channels[channel.id] = channel
            self._send(channel, "sync", b"")

    def stop_channel(self, channel_id: str, resource_id: str) -> None:
        with self._lock:
            channel = self._channels.get(channel_id)
            if channel is None or channel.resource_id != resource_id or channel.stopped:
                raise ApiError(404, f"Channel '{channel_id}' not found for project", "notFound")
            channel.stopped = True

    @property
    def channels(self) -> list[Channel]:
        with self._lock:
            return [replace(channel) for channel in self._channels.values()]

    def deliver_notifications(self, stop: threading.Event) -> None:
        """Posts the outbox's notifications until ``stop`` is set; the courier thread's work.

        Best effort, as Google's: a receiver that fails or is slow (past 2 s) misses the
        message, which is recorded in ``deliveries`` either way.
        """
        with httpx.Client(timeout=2.0) as client:
            while not stop.is_set():
                notification = self.outbox.take(timeout=0.05)
                if notification is None:
                    continue
                status, error = None, None
                try:
                    answer = client.post(
                        notification.address,
                        content=notification.body,
                        headers=dict(notification.headers),
                    )
                    status = answer.status_code
                except Exception as failure:  # Whatever the receiver does, the next one goes.
                    error = repr(failure)
                finally:
                    with self._lock:
                        self.deliveries.append(
                            Delivery(
                                notification.channel_id,
                                notification.headers["X-Goog-Resource-State"],
                                int(notification.headers["X-Goog-Message-Number"]),
                                status,
                                error,
                            )
                        )
                    self.outbox.done()

    def wait_for_notifications(self, timeout: float = 5.0) -> bool:
        """Whether every notification so far was posted (or given up) within ``timeout``."""
        return self.outbox.wait_until_empty(timeout)

    # Inside

    def _address(self, email: str) -> str:
        email = email.strip().lower()
        return email if "@" in email else f"{email}@{self.domain}"

    def _next_user_id(self) -> str:
        self._serial += 1
        return f"1{self._serial:020d}"

    def _etag(self) -> str:
        """A new etag: every change of a record gets one never seen before."""
        self._serial += 1
        digest = hashlib.sha256(f"{self.customer_id}/{self._serial}".encode()).digest()
        return f'"{_b64(digest[:20])}/{_b64(digest[20:])}"'

    def _find_user(self, user_key: str) -> User | None:
        """A user by key, or by the name of an address in the domain (``"alice"``): the
        methods for tests take both; the API, as Google's, only keys."""
        return self.get_user(user_key) or self.get_user(self._address(user_key))

    def _user(self, user_key: str) -> User:
        user = self._find_user(user_key)
        if user is None:
            raise KeyError(f"no user {user_key!r}")
        return user

    def _group(self, group_key: str) -> Group:
        group = self.get_group(group_key) or self.get_group(self._address(group_key))
        if group is None:
            raise KeyError(f"no group {group_key!r}")
        return group

    def _index_user(self, user: User) -> None:
        for email in user.emails:
            if email.lower() in self._user_ids or email.lower() in self._group_ids:
                raise ValueError(f"{email} is taken")
        for email in user.emails:
            self._user_ids[email.lower()] = user.id
        self._users[user.id] = user
        self._org_units.update(_lineage(user.org_unit_path))

    def _touch_group(self, group_id: str) -> None:
        self._groups[group_id] = replace(self._groups[group_id], etag=self._etag())

    def _notify(self, event: str, user: User) -> None:
        body = {
            "kind": "admin#directory#user",
            "id": user.id,
            "etag": user.etag,
            "primaryEmail": user.primary_email,
        }
        for channel in self._channels.values():
            if channel.event in (None, event):
                self._send(channel, event, json.dumps(body).encode())

    def _send(self, channel: Channel, state: str, body: bytes) -> None:
        if channel.live(int(time.time() * 1000)):
            self.outbox.put(Notification(channel.id, channel.address, channel.headers(state), body))


def _org_unit(path: str) -> str:
    if not path.startswith("/"):
        raise ValueError(f"an org unit path starts with '/': {path!r}")
    return path.rstrip("/") or "/"


def _scope_list(scope: str) -> tuple[str, ...]:
    """Space-separated scopes, each once, in their order."""
    return tuple(dict.fromkeys(scope.split()))


def _with_query(uri: str, params: list[tuple[str, str]]) -> str:
    """A redirect URI with parameters added to its query, encoded as Google encodes them."""
    query = urlencode(params, quote_via=quote, safe=":/")
    return f"{uri}{'&' if '?' in uri else '?'}{query}"


def _unsigned(number: int) -> bytes:
    """A JWK's integer: big-endian bytes, as few as hold it."""
    return number.to_bytes((number.bit_length() + 7) // 8 or 1, "big")


def _lineage(path: str) -> list[str]:
    """An org unit and those above it: ``/a/b`` is in ``/a/b``, ``/a`` and ``/``."""
    parts = path.strip("/").split("/") if path != "/" else []
    return ["/"] + ["/" + "/".join(parts[: depth + 1]) for depth in range(len(parts))]


# Queries and pages


_CLAUSE = re.compile(r"""\s*(\w+)\s*([=:])\s*('[^']*'|"[^"]*"|[^\s'"]+)\s*""")
_FLAGS = {"isAdmin": "is_admin", "isSuspended": "suspended", "isArchived": "archived"}


def user_filter(query: str) -> Callable[[User], bool]:
    """A ``users.list`` query as a predicate, for the clauses the fake knows (all must hold):

    ``orgUnitPath=/Sales`` (quoted or not; that org unit and all beneath it), ``isAdmin``,
    ``isSuspended`` and ``isArchived`` ``=true|false``, and ``email``, ``givenName``,
    ``familyName`` with ``=`` (exact) or ``:`` (prefix; a trailing ``*`` is allowed).
    Matching ignores case. Anything else is Google's 400 ``Invalid Input``.
    """
    tests: list[Callable[[User], bool]] = []
    position = 0
    while position < len(query):
        clause = _CLAUSE.match(query, position)
        if clause is None:
            raise invalid_input()
        name, operator, value = clause.group(1), clause.group(2), clause.group(3).strip("'\"")
        tests.append(_clause(name, operator, value))
        position = clause.end()
    return lambda user: all(test(user) for test in tests)


def _clause(name: str, operator: str, value: str) -> Callable[[User], bool]:
    wanted = value.lower()
    if name == "orgUnitPath" and operator == "=":
        unit = wanted.rstrip("/") or "/"
        return lambda user: (
            unit == "/"
            or (
                user.org_unit_path.lower() == unit
                or user.org_unit_path.lower().startswith(unit + "/")
            )
        )
    if name in _FLAGS and operator == "=" and wanted in ("true", "false"):
        flag = _FLAGS[name]
        return lambda user: bool(getattr(user, flag)) is (wanted == "true")
    texts: dict[str, Callable[[User], tuple[str, ...]]] = {
        "email": lambda user: user.emails,
        "givenName": lambda user: (user.given_name,),
        "familyName": lambda user: (user.family_name,),
    }
    if name in texts:
        values = texts[name]
        if operator == "=":
            return lambda user: any(text.lower() == wanted for text in values(user))
        prefix = wanted.rstrip("*")
        return lambda user: any(text.lower().startswith(prefix) for text in values(user))
    raise invalid_input()


def page(
    items: list[T],
    sort_key: Callable[[T], list[str]],
    max_results: int,
    page_token: str | None,
    fingerprint: str,
    *,
    descending: bool = False,
) -> tuple[list[T], str | None]:
    """One page of ``items`` and the token of the next, if any.

    A token holds the sort key of the page's last item (keyset paging), so records added or
    removed meanwhile shift no page; and the list's parameters' fingerprint, so a token is
    refused (400) by a list of other parameters. Tokens are opaque to clients.
    """
    ordered = sorted(items, key=sort_key, reverse=descending)
    if page_token:
        try:
            found = json.loads(_unb64(page_token))
            after = [str(part) for part in found["after"]]
            if found["list"] != fingerprint:
                raise ValueError("a token of another list")
        except (ValueError, KeyError, TypeError) as error:
            raise invalid_input() from error
        ordered = [
            item
            for item in ordered
            if (sort_key(item) < after if descending else sort_key(item) > after)
        ]
    chosen = ordered[:max_results]
    if len(ordered) <= max_results:
        return chosen, None
    token = {"list": fingerprint, "after": sort_key(chosen[-1])}
    return chosen, _b64(json.dumps(token).encode())


def fingerprint(*parameters: object) -> str:
    return hashlib.sha256(json.dumps(parameters).encode()).hexdigest()[:16]


def max_results(text: str | None, default: int, limit: int) -> int:
    if text is None:
        return default
    try:
        count = int(text)
    except ValueError as error:
        raise invalid_input() from error
    if not 1 <= count <= limit:
        raise invalid_input()
    return count


# The HTTP service


Endpoint = Callable[[Request], Awaitable[Response]]
NO_STORE = {"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate", "Pragma": "no-cache"}
Handler = Callable[[Request, IssuedToken], Awaitable[Response]]


class Service:
    """The HTTP face of a ``Workspace``: the OAuth endpoints and the Directory API."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def app(self) -> Starlette:
        api = DIRECTORY_PATH
        directory: list[tuple[str, str, frozenset[str], Handler]] = [
            ("GET", f"{api}/users", USER_SCOPES, self.list_users),
            ("POST", f"{api}/users/watch", USER_SCOPES, self.watch_users),
            ("GET", f"{api}/users/{{user_key}}", USER_SCOPES, self.get_user),
            ("GET", f"{api}/groups", GROUP_SCOPES, self.list_groups),
            ("GET", f"{api}/groups/{{group_key}}", GROUP_SCOPES, self.get_group),
            ("GET", f"{api}/groups/{{group_key}}/members", MEMBER_SCOPES, self.list_members),
            ("POST", CHANNELS_STOP_PATH, USER_SCOPES, self.stop_channel),
        ]
        routes = [
            Route("/token", self.token, methods=["POST"]),
            Route(AUTH_PATH, self.authorization, methods=["GET"]),
            Route(REVOKE_PATH, self.revoke, methods=["POST"]),
            Route(CERTS_PATH, self.certs, methods=["GET"]),
        ] + [
            Route(path, self._directory(scopes, handler), methods=[method])
            for method, path, scopes, handler in directory
        ]
        return Starlette(routes=routes, exception_handlers={HTTPException: self._http_error})

    async def _http_error(self, request: Request, error: Exception) -> Response:
        """Unknown paths and methods, answered in Google's error format too."""
        code = error.status_code if isinstance(error, HTTPException) else 500
        if code == 404:
            return ApiError(404, "Not Found", "notFound").response()
        return ApiError(
            code, "Method Not Allowed" if code == 405 else "Error", "badRequest"
        ).response()

    def _directory(self, scopes: frozenset[str], handler: Handler) -> Endpoint:
        """A Directory API endpoint: logged and counted, then the token, then the quota."""

        async def endpoint(request: Request) -> Response:
            self.workspace.record(request.method, request.url.path, request.query_params)
            try:
                token = self.workspace.authorize(request.headers.get("Authorization"), scopes)
                self.workspace.admit()
                return await handler(request, token)
            except ApiError as error:
                return error.response()

        return endpoint

    async def token(self, request: Request) -> Response:
        self.workspace.record(request.method, request.url.path, request.query_params)
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        try:
            answer = self.workspace.exchange(form, request.headers.get("Authorization"))
        except TokenError as error:
            return JSONResponse(error.body, error.status, headers=NO_STORE)
        return JSONResponse(answer, headers=NO_STORE)

    async def authorization(self, request: Request) -> Response:
        """The authorization endpoint, where the browser is sent to consent."""
        self.workspace.record(request.method, request.url.path, request.query_params)
        params = dict(request.query_params)
        try:
            location = self.workspace.consent(params)
        except AuthorizationError as error:
            return error.response(params)
        return Response(status_code=302, headers={"Location": location, **NO_STORE})

    async def revoke(self, request: Request) -> Response:
        """The revocation endpoint: ``token`` in the form (or the query)."""
        self.workspace.record(request.method, request.url.path, request.query_params)
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        token = form.get("token") or request.query_params.get("token")
        if not token:
            return JSONResponse(
                {"error": "invalid_request", "error_description": "Bad Request"}, 400
            )
        try:
            self.workspace.revoke(token)
        except TokenError as error:
            return JSONResponse(error.body, error.status)
        return JSONResponse({})

    async def certs(self, request: Request) -> Response:
        return JSONResponse(self.workspace.id_token_keys())

    def _domain(self, request: Request, *, required: bool = True) -> str | None:
        """The ``customer`` or ``domain`` a list names: the domain to keep to, if it is one.

        Google asks for one of the two (400 without) and answers 403 for another customer's.
        """
        customer = request.query_params.get("customer")
        domain = request.query_params.get("domain")
        if customer is None and domain is None:
            if required:
                raise bad_request()
            return None
        if customer is not None and customer not in ("my_customer", self.workspace.customer_id):
            raise not_authorized()
        if domain is not None and domain.lower() != self.workspace.domain:
            raise not_authorized()
        return domain.lower() if domain is not None else None

    async def list_users(self, request: Request, token: IssuedToken) -> Response:
        params = request.query_params
        domain = self._domain(request)
        count = max_results(params.get("maxResults"), 100, 500)
        projection, mask = _projection(request)
        order_by = params.get("orderBy", "email")
        sort_order = params.get("sortOrder", "ASCENDING").upper()
        if order_by not in ("email", "givenName", "familyName"):
            raise invalid_input()
        if sort_order not in ("ASCENDING", "DESCENDING"):
            raise invalid_input()
        deleted = params.get("showDeleted", "false").lower() == "true"
        query = params.get("query", "")
        users = self.workspace.users(deleted=deleted)
        if domain is not None:
            users = [user for user in users if user.primary_email.endswith("@" + domain)]
        if query.strip():
            matches = user_filter(query)
            users = [user for user in users if matches(user)]
        sort_key = _user_sort_keys[order_by]
        listing = fingerprint("users", domain, query, order_by, sort_order, deleted)
        chosen, next_token = page(
            users,
            sort_key,
            count,
            params.get("pageToken"),
            listing,
            descending=sort_order == "DESCENDING",
        )
        customer = self.workspace.customer_id
        resources = [user_resource(user, customer, projection, mask) for user in chosen]
        return _listing("admin#directory#users", "users", resources, next_token)

    async def get_user(self, request: Request, token: IssuedToken) -> Response:
        projection, mask = _projection(request)
        user = self.workspace.get_user(request.path_params["user_key"])
        if user is None:
            raise not_found("userKey")
        return JSONResponse(user_resource(user, self.workspace.customer_id, projection, mask))

    async def list_groups(self, request: Request, token: IssuedToken) -> Response:
        params = request.query_params
        user_key = params.get("userKey")
        domain = self._domain(request, required=user_key is None)
        count = max_results(params.get("maxResults"), 200, 200)
        if user_key is not None:
            user = self.workspace.get_user(user_key)
            if user is None:
                raise not_found("userKey")
            groups = self.workspace.groups_of(user.id)
        else:
            groups = self.workspace.groups()
        if domain is not None:
            groups = [(group, size) for group, size in groups if group.email.endswith("@" + domain)]
        chosen, next_token = page(
            groups,
            lambda entry: [entry[0].email, entry[0].id],
            count,
            params.get("pageToken"),
            fingerprint("groups", domain, user_key),
        )
        resources = [group_resource(group, size) for group, size in chosen]
        return _listing("admin#directory#groups", "groups", resources, next_token)

    async def get_group(self, request: Request, token: IssuedToken) -> Response:
        group = self.workspace.get_group(request.path_params["group_key"])
        if group is None:
            raise not_found("groupKey")
        size = next(size for g, size in self.workspace.groups() if g.id == group.id)
        return JSONResponse(group_resource(group, size))

    async def list_members(self, request: Request, token: IssuedToken) -> Response:
        params = request.query_params
        group = self.workspace.get_group(request.path_params["group_key"])
        if group is None:
            raise not_found("groupKey")
        count = max_results(params.get("maxResults"), 200, 200)
        derived = params.get("includeDerivedMembership", "false").lower() == "true"
        roles = params.get("roles")
        members = self.workspace.members(group.id, derived=derived)
        if roles is not None:
            wanted = {role.strip().upper() for role in roles.split(",")}
            if not wanted <= set(ROLES):
                raise invalid_input()
            members = [member for member in members if member["role"] in wanted]
        chosen, next_token = page(
            members,
            lambda member: [member["email"], member["id"]],
            count,
            params.get("pageToken"),
            fingerprint("members", group.id, derived, roles),
        )
        return _listing("admin#directory#members", "members", chosen, next_token)

    async def watch_users(self, request: Request, token: IssuedToken) -> Response:
        domain = self._domain(request)
        event = request.query_params.get("event")
        if event is not None and event not in USER_EVENTS:
            raise invalid_input()
        body = await _json_body(request)
        channel_id, address = body.get("id"), body.get("address")
        if not isinstance(channel_id, str) or not channel_id:
            raise ApiError(400, "Required", "required")
        if body.get("type") not in ("web_hook", "webhook"):
            raise ApiError(400, "Invalid value for type", "invalid")
        if not isinstance(address, str) or not address.startswith(("https://", "http://")):
            raise ApiError(400, "Invalid value for address", "invalid")
        channel_token = body.get("token")
        now_ms = int(time.time() * 1000)
        expiration_ms = now_ms + CHANNEL_SECONDS * 1000
        try:
            if body.get("expiration") is not None:
                expiration_ms = min(int(body["expiration"]), expiration_ms)
            params = body.get("params")
            if isinstance(params, dict) and params.get("ttl") is not None:
                expiration_ms = min(now_ms + int(params["ttl"]) * 1000, expiration_ms)
        except (TypeError, ValueError) as error:
            raise invalid_input() from error
        where = {"domain": domain} if domain else {"customer": request.query_params["customer"]}
        query = urlencode({"alt": "json", **where, **({"event": event} if event else {})})
        channel = Channel(
            id=channel_id,
            resource_id=secrets.token_urlsafe(20),
            resource_uri=f"{request.url.scheme}://{request.url.netloc}{DIRECTORY_PATH}/users?{query}",
            address=address,
            token=str(channel_token) if channel_token is not None else None,
            expiration_ms=expiration_ms,
            event=event,
        )
        self.workspace.open_channel(channel)
        resource = {
            "kind": "api#channel",
            "id": channel.id,
            "resourceId": channel.resource_id,
            "resourceUri": channel.resource_uri,
            "expiration": str(channel.expiration_ms),
        }
        if channel.token is not None:
            resource["token"] = channel.token
        return JSONResponse(resource)

    async def stop_channel(self, request: Request, token: IssuedToken) -> Response:
        body = await _json_body(request)
        self.workspace.stop_channel(str(body.get("id")), str(body.get("resourceId")))
        return Response(status_code=204)


_user_sort_keys: dict[str, Callable[[User], list[str]]] = {
    "email": lambda user: [user.primary_email, user.id],
    "givenName": lambda user: [user.given_name.lower(), user.primary_email, user.id],
    "familyName": lambda user: [user.family_name.lower(), user.primary_email, user.id],
}


def _projection(request: Request) -> tuple[str, frozenset[str]]:
    projection = request.query_params.get("projection", "basic").lower()
    mask = request.query_params.get("customFieldMask")
    if projection not in ("basic", "full", "custom") or (projection == "custom") != bool(mask):
        raise invalid_input()
    return projection, frozenset((mask or "").split(","))


def _listing(kind: str, name: str, items: list[dict[str, Any]], next_token: str | None) -> Response:
    """A list answer: no ``name`` key when there are no items, as Google answers."""
    body: dict[str, Any] = {"kind": kind, "etag": list_etag(items)}
    if items:
        body[name] = items
    if next_token is not None:
        body["nextPageToken"] = next_token
    return JSONResponse(body)


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except ValueError as error:
        raise ApiError(400, "Parse Error", "parseError") from error
    if not isinstance(body, dict):
        raise ApiError(400, "Parse Error", "parseError")
    return body


# Serving


@dataclass(frozen=True)
class FakeGoogle:
    """A served workspace: ``url`` is the base (where ``https://admin.googleapis.com`` would be)."""

    url: str
    workspace: Workspace

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    @property
    def auth_uri(self) -> str:
        """The authorization endpoint (``https://accounts.google.com/o/oauth2/v2/auth``)."""
        return f"{self.url}{AUTH_PATH}"

    @property
    def revoke_uri(self) -> str:
        return f"{self.url}{REVOKE_PATH}"

    @property
    def certs_uri(self) -> str:
        """The JSON Web Key Set of the keys that sign ID tokens."""
        return f"{self.url}{CERTS_PATH}"

    @property
    def directory_url(self) -> str:
        return f"{self.url}{DIRECTORY_PATH}"


@contextmanager
def serving_workspace(workspace: Workspace | None = None) -> Iterator[FakeGoogle]:
    """Serves a workspace (a new, empty one by default) on a free loopback port, with uvicorn
    in a thread of this process, and a thread posting its watch notifications."""
    workspace = workspace or Workspace()
    # The socket is bound here and handed to uvicorn, so no other process can take the port.
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{listening.getsockname()[1]}"
    workspace.token_uri = f"{url}/token"
    config = uvicorn.Config(
        Service(workspace).app(),
        log_level="warning",
        access_log=False,
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    serving = threading.Thread(
        target=server.run, kwargs={"sockets": [listening]}, name="fake-google", daemon=True
    )
    stop = threading.Event()
    courier = threading.Thread(
        target=workspace.deliver_notifications, args=(stop,), name="fake-google-push", daemon=True
    )
    serving.start()
    courier.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not serving.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake Google did not start")
            time.sleep(0.01)
        httpx.get(f"{url}/", timeout=5)  # Any answer will do: it answers.
        yield FakeGoogle(url, workspace)
    finally:
        server.should_exit = True
        stop.set()
        serving.join(10)
        courier.join(10)
        listening.close()
