"""A small client for scimgate's management API: events, revocation proof, login lookup."""

from collections.abc import Iterable
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from scimgate.client.errors import AmbiguousUserError, ApiError, CursorExpiredError
from scimgate.client.models import EventPage, EventType, UserMatch

NO_MATCH = "No user "
"""How the detail of a lookup's 404 begins when the directory exists but no user matches."""


class ScimgateClient:
    """Calls ``{base_url}/api/v1`` with the admin token; use it as a context manager.

    ``transport`` is handed to httpx (retries, proxies, TLS settings).
    """

    def __init__(
        self,
        base_url: str,
        admin_token: str,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.timeout = timeout
        self._http = httpx.Client(
            base_url=f"{base_url.rstrip('/')}/api/v1",
            headers={"Authorization": f"Bearer {admin_token}"},
            timeout=timeout,
            transport=transport,
        )

    def events(
        self,
        after: int,
        *,
        limit: int = 100,
        organization_id: str | None = None,
        directory_id: str | None = None,
        types: Iterable[EventType | str] = (),
        wait: float = 0,
    ) -> EventPage:
        """Events after a cursor, oldest first; with ``wait``, up to that long for the first.

        Raises CursorExpiredError when retention has removed events after ``after``.
        """
        params: dict[str, Any] = {"after": after, "limit": limit, "wait": wait}
        if organization_id:
            params["organization_id"] = organization_id
        if directory_id:
            params["directory_id"] = directory_id
        kinds = ",".join(str(kind) for kind in types)
        if kinds:
            params["types"] = kinds
        response = self._http.get("/events", params=params, timeout=self.timeout + wait)
        if response.status_code == 410:
            raise CursorExpiredError(410, _detail(response))
        return EventPage.model_validate_json(_ok(response).content)

    def latest_cursor(self) -> int:
        """The newest cursor: a stream starting there receives only what happens next."""
        return int(_ok(self._http.get("/events/latest")).json()["cursor"])

    def confirm_access_revoked(self, directory_id: str, user_id: str) -> list[str]:
        """Tell scimgate the user's sessions and tokens are revoked (proof of offboarding).

        Returns the ids of the deprovisionings this confirmed; calling again is harmless.
        """
        path = f"/directories/{_segment(directory_id)}/users/{_segment(user_id)}/access-revoked"
        confirmed: list[str] = _ok(self._http.post(path)).json()["confirmed"]
        return confirmed

    def lookup_user(
        self,
        *,
        directory_id: str | None = None,
        organization_id: str | None = None,
        external_id: str | None = None,
        subject: str | None = None,
        email: str | None = None,
    ) -> UserMatch | None:
        """The directory user behind a login, or None; give one directory or organization.

        Keys are tried in the order externalId, subject (against userName, any
        case), e-mail (any of the user's addresses, any case). Raises
        AmbiguousUserError when the first key that matches matches several users,
        and ApiError (404) for an unknown directory or organization.
        """
        if (directory_id is None) == (organization_id is None):
            raise ValueError("give either directory_id or organization_id")
        owner = (
            f"/directories/{_segment(directory_id)}"
            if directory_id is not None
            else f"/organizations/{_segment(str(organization_id))}"
        )
        claims = {"external_id": external_id, "subject": subject, "email": email}
        response = self._http.get(
            f"{owner}/users/lookup",
            params={key: value for key, value in claims.items() if value is not None},
        )
        if response.status_code == 404 and _detail(response).startswith(NO_MATCH):
            return None
        if response.status_code == 409:
            raise AmbiguousUserError(409, _detail(response))
        return UserMatch.model_validate_json(_ok(response).content)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _segment(value: str) -> str:
    return quote(value, safe="")


def _ok(response: httpx.Response) -> httpx.Response:
    if response.is_success:
        return response
    raise ApiError(response.status_code, _detail(response))


def _detail(response: httpx.Response) -> str:
    """The ``detail`` of scimgate's error envelope, or the body of anything else."""
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    return str(detail or response.text or response.reason_phrase)
