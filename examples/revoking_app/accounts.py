"""Sessions and API tokens, kept in memory and revocable per directory user."""

import secrets
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Account:
    user_id: str
    """scimgate's id of the directory user: the link between the app's account and SCIM."""

    username: str


class Accounts:
    """Who holds which session and token; the event consumer revokes from its own thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, Account] = {}
        self._tokens: dict[str, Account] = {}

    def open_session(self, account: Account) -> str:
        return self._issue(self._sessions, account)

    def issue_token(self, account: Account) -> str:
        return self._issue(self._tokens, account)

    def by_session(self, session: str | None) -> Account | None:
        with self._lock:
            return self._sessions.get(session or "")

    def by_token(self, token: str | None) -> Account | None:
        with self._lock:
            return self._tokens.get(token or "")

    def revoke(self, user_id: str) -> int:
        """End every session and API token of a user; how many there were."""
        with self._lock:
            revoked = 0
            for held in (self._sessions, self._tokens):
                for key in [key for key, account in held.items() if account.user_id == user_id]:
                    del held[key]
                    revoked += 1
            return revoked

    def revoke_all(self) -> int:
        with self._lock:
            revoked = len(self._sessions) + len(self._tokens)
            self._sessions.clear()
            self._tokens.clear()
            return revoked

    def _issue(self, held: dict[str, Account], account: Account) -> str:
        key = secrets.token_urlsafe(32)
        with self._lock:
            held[key] = account
        return key
