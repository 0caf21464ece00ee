"""Reading a Google Workspace account through the Admin SDK Directory API.

google-auth obtains the access token: by signing a service account's assertion
(domain-wide delegation: the service account acts as one of the account's
administrators), or by refreshing the token an administrator's OAuth consent
gave. httpx reads the documented REST API page by page. Quota
answers (403 with a rate-limit reason, 429) and Google's passing failures (5xx)
are retried with exponential backoff and random jitter, as Google asks; every
attempt is reported to ``on_call``, for the provisioning log.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import httpx

from scimgate.config import GoogleSettings
from scimgate.records import frozen

if TYPE_CHECKING:
    # Imported where they are used: google-auth and the requests it brings add about
    # 10 MiB to every process, and only a process that reads Google needs them.
    import google.auth.credentials
    from google.auth.exceptions import RefreshError

SCOPES = (
    "https://www.googleapis.com/auth/admin.directory.user.readonly",
    "https://www.googleapis.com/auth/admin.directory.group.readonly",
)
"""What domain-wide delegation must grant the service account: reading only. Listing
groups takes the group scope (the member scope alone does not list them); it reads
their members too."""

CONSENT = "authorized_user"
"""The ``type`` of credentials an administrator's OAuth consent gave (google-auth's name)."""

CONSENT_SCOPES = (*SCOPES, "openid", "email")
"""What an administrator consents to: reading, and who they are (to show who consented)."""

USERS_PAGE = 500
GROUPS_PAGE = 200
MEMBERS_PAGE = 200
"""The largest pages the Directory API serves."""

MAX_RETRIES = 8
MAX_BACKOFF = 64.0
QUOTA_REASONS = frozenset({"userRateLimitExceeded", "rateLimitExceeded", "quotaExceeded"})
TIMEOUT = 30.0
USER_AGENT = "scimgate-directory-sync"


class GoogleApiError(Exception):
    """Google refused or failed, in words an administrator can act on."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@frozen
class ApiCall:
    """One request to Google, as the provisioning log keeps it."""

    method: str
    path: str
    query: str
    status: int
    latency_ms: int
    items: int
    """Resources the answer held."""

    error: str | None = None


class DirectoryApi:
    """One Google account's Directory API, as the administrator ``admin_email`` sees it."""

    def __init__(
        self,
        key: dict[str, Any],
        admin_email: str,
        customer_id: str,
        settings: GoogleSettings,
        on_call: Callable[[ApiCall], None] = lambda call: None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.customer_id = customer_id
        self.settings = settings
        self.on_call = on_call
        self.sleep = sleep
        self.retries = 0
        """Attempts retried after a quota answer or a passing failure."""
        self.consented = key.get("type") == CONSENT
        """Whether an administrator's OAuth consent opens the account, not a service account."""
        self.client_id = str(key.get("client_id", ""))
        self.credentials = (
            _consent(key, settings) if self.consented else _delegation(key, settings, admin_email)
        )
        self.admin_email = admin_email
        self.http = httpx.Client(timeout=TIMEOUT, headers={"user-agent": USER_AGENT})

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> DirectoryApi:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- What is read ----------------------------------------------------------

    def users(self) -> Iterator[dict[str, Any]]:
        """Every user of the account (suspended and archived ones included)."""
        params = {"customer": self.customer_id, "maxResults": USERS_PAGE, "projection": "full"}
        yield from self._pages("/admin/directory/v1/users", params, "users")

    def groups(self) -> Iterator[dict[str, Any]]:
        params = {"customer": self.customer_id, "maxResults": GROUPS_PAGE}
        yield from self._pages("/admin/directory/v1/groups", params, "groups")

    def members(self, group_key: str) -> Iterator[dict[str, Any]]:
        """A group's direct members (users, and groups within it)."""
        path = f"/admin/directory/v1/groups/{quote(group_key, safe='@')}/members"
        yield from self._pages(path, {"maxResults": MEMBERS_PAGE}, "members")

    def check(self) -> None:
        """Read one user: proves the key, the delegation, the administrator and the account."""
        params = {"customer": self.customer_id, "maxResults": 1}
        self._get("/admin/directory/v1/users", params, "users")

    def watch(self, event: str, channel_id: str, token: str, address: str) -> dict[str, Any]:
        """Ask Google to post to ``address`` when a user is added, changed or deleted
        (``event``); the channel Google opened (its ``resourceId``, its ``expiration``)."""
        params = {"customer": self.customer_id, "event": event}
        channel = {"id": channel_id, "type": "web_hook", "address": address, "token": token}
        return self._call("POST", "/admin/directory/v1/users/watch", params, "", channel)

    def stop(self, channel_id: str, resource_id: str) -> None:
        """Close a channel Google holds open."""
        channel = {"id": channel_id, "resourceId": resource_id}
        self._call("POST", "/admin/directory_v1/channels/stop", {}, "", channel)

    # --- How ---------------------------------------------------------------------

    def _pages(self, path: str, params: dict[str, Any], field: str) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            page = self._get(path, {**params, "pageToken": token} if token else params, field)
            yield from page.get(field) or ()
            token = page.get("nextPageToken")
            if not token:
                return

    def _get(self, path: str, params: dict[str, Any], field: str) -> dict[str, Any]:
        return self._call("GET", path, params, field)

    def _call(
        self,
        method: str,
        path: str,
        params: dict[str, Any],
        field: str,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One request, retried as Google asks; its answer's JSON (empty for no content)."""
        url = self.settings.api_url + path
        query = urlencode(params)
        refreshed = False
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                answer = self.http.request(
                    method, url, params=params, json=body, headers=self._authorization()
                )
            except httpx.HTTPError as exc:
                answer = None
                failure = f"Google could not be reached: {exc.__class__.__name__}: {exc}"
            elapsed = round((time.perf_counter() - started) * 1000)
            if answer is not None and answer.is_success:
                found: dict[str, Any] = answer.json() if answer.content else {}
                items = len(found.get(field) or ())
                self.on_call(ApiCall(method, path, query, answer.status_code, elapsed, items))
                return found
            status = answer.status_code if answer is not None else 503
            if answer is not None:
                failure = _described(answer)
            self.on_call(ApiCall(method, path, query, status, elapsed, 0, failure))
            if status == 401 and not refreshed:
                # The token ran out during the sync: one new one, then the same request.
                self.credentials.token = None
                refreshed = True
                continue
            if not _passing(answer) or attempt >= MAX_RETRIES:
                raise GoogleApiError(_final(failure, status, attempt), status)
            self.sleep(self._backoff(attempt))
            attempt += 1
            self.retries += 1

    def _authorization(self) -> dict[str, str]:
        if not self.credentials.valid:
            import google.auth.transport.requests
            from google.auth.exceptions import GoogleAuthError, RefreshError

            try:
                self.credentials.refresh(google.auth.transport.requests.Request())  # type: ignore[no-untyped-call]
            except RefreshError as exc:
                raise GoogleApiError(self._refused(exc), 401) from None
            except GoogleAuthError as exc:
                raise GoogleApiError(f"no access token from Google: {exc}", 503) from None
        return {"authorization": f"Bearer {self.credentials.token}"}

    def _backoff(self, attempt: int) -> float:
        """Google's truncated exponential backoff: 2^n times the base, plus up to one base."""
        base = self.settings.backoff_seconds
        return min(MAX_BACKOFF, base * 2.0**attempt) + random.uniform(0, base)

    def _refused(self, exc: RefreshError) -> str:
        data = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
        error = str(data.get("error", ""))
        said = str(data.get("error_description") or exc.args[0])
        if self.consented:
            return (
                f"Google refused the consent {self.admin_email} gave ({error or said}): it was "
                "withdrawn, or it expired; an administrator signs in with Google again on the "
                "setup page"
            )
        if error == "unauthorized_client":
            return (
                f"Google refused the service account ({said}): grant domain-wide delegation "
                f"to client ID {self.client_id} with the scopes {','.join(SCOPES)} "
                "(Admin console > Security > Access and data control > API controls > "
                "Manage domain-wide delegation)"
            )
        if error == "invalid_grant":
            return (
                f"Google refused to let the service account act as {self.admin_email} "
                f"({said}): give the address of an administrator of the account who can "
                "read users and groups, and check that the key has not been deleted"
            )
        return f"Google refused the service account: {said}"


def _delegation(
    key: dict[str, Any], settings: GoogleSettings, admin_email: str
) -> google.auth.credentials.Credentials:
    """A service account's credentials, acting as ``admin_email`` (domain-wide delegation)."""
    from google.oauth2 import service_account

    try:
        # google-auth's own signature is untyped.
        found: google.auth.credentials.Credentials = (
            service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                {**key, "token_uri": settings.token_url}, scopes=SCOPES, subject=admin_email
            )
        )
    except (ValueError, KeyError) as exc:
        raise GoogleApiError(
            f"the service account key is not a usable JSON key ({exc}): download a new "
            "JSON key of the service account and upload it whole",
            400,
        ) from None
    return found


def _consent(key: dict[str, Any], settings: GoogleSettings) -> google.auth.credentials.Credentials:
    """An administrator's consent: its refresh token, with the operator's OAuth client."""
    if not (settings.oauth_client_id and settings.oauth_client_secret):
        raise GoogleApiError(
            "this directory was opened by an administrator's consent, and the operator's "
            "OAuth client is no longer configured (SCIMGATE_GOOGLE_OAUTH_CLIENT_ID and "
            "SCIMGATE_GOOGLE_OAUTH_CLIENT_SECRET)",
            400,
        )
    import google.oauth2.credentials

    return google.oauth2.credentials.Credentials(  # type: ignore[no-untyped-call]
        token=None,
        refresh_token=str(key["refresh_token"]),
        client_id=settings.oauth_client_id,
        client_secret=settings.oauth_client_secret,
        token_uri=settings.token_url,
        scopes=list(SCOPES),
    )


def _passing(answer: httpx.Response | None) -> bool:
    """Whether a failure may go away by itself: no answer, a quota, or Google's own 5xx."""
    if answer is None or answer.status_code in (429, 500, 502, 503, 504):
        return True
    return answer.status_code == 403 and bool(_reasons(answer) & QUOTA_REASONS)


def _reasons(answer: httpx.Response) -> set[str]:
    try:
        errors = answer.json()["error"].get("errors") or []
    except (ValueError, KeyError, TypeError, AttributeError):
        return set()
    return {str(error.get("reason")) for error in errors if isinstance(error, dict)}


def _described(answer: httpx.Response) -> str:
    try:
        message = str(answer.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        message = answer.text[:200] or answer.reason_phrase
    reasons = ", ".join(sorted(_reasons(answer)))
    return (
        f"Google answered {answer.status_code}"
        + (f" ({reasons})" if reasons else "")
        + (f": {message}" if message else "")
    )


def _final(failure: str, status: int, attempts: int) -> str:
    if status == 403 and "insufficientPermissions" in failure:
        return (
            f"{failure}. Grant the service account the read-only scopes {','.join(SCOPES)}, "
            "and act as an administrator who can read users and groups"
        )
    if status == 403 and "forbidden" in failure:
        return (
            f"{failure}. The administrator it acts as cannot read the directory: give one "
            "who can read users and groups"
        )
    if status == 404:
        return f"{failure}. Check the customer ID (or use my_customer)"
    if attempts:
        return f"{failure}, still after {attempts} retries with backoff; the next sync tries again"
    return failure
