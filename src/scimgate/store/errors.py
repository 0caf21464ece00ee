"""What the store refuses, in its own terms: the layers above never see a driver's error.

The driver's errors are translated in one place, :mod:`scimgate.store.driver_errors`.
"""

from enum import StrEnum


class StoreError(Exception):
    """The base of the store's errors."""


class NotFound(StoreError):
    """A row the caller named by its id does not exist."""

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"no {kind} {key}")
        self.kind = kind
        self.key = key


class Uniqueness(StrEnum):
    """A uniqueness the database holds, by the name of the constraint that holds it."""

    USER_NAME = "uq_users_directory_id_user_name_key"
    """A user name is unique within its directory (regardless of case)."""


class Conflict(StoreError):
    """A write that would break a uniqueness: another row holds the value."""

    def __init__(self, uniqueness: Uniqueness) -> None:
        super().__init__(f"{uniqueness.value} would be violated")
        self.uniqueness = uniqueness


class Busy(StoreError):
    """The database cannot take the work now; the transaction was rolled back, so the
    caller may retry after ``retry_after`` seconds with nothing half-done."""

    def __init__(self, detail: str, retry_after: float) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after


class Unreachable(StoreError):
    """The database did not answer a probe; ``cause`` names the driver's error."""

    def __init__(self, cause: str) -> None:
        super().__init__(f"unreachable: {cause}")
        self.cause = cause
