"""What can go wrong when an application talks to scimgate."""


class ScimgateError(Exception):
    """Any failure the client reports."""


class WebhookVerificationError(ScimgateError):
    """A webhook delivery is not signed by scimgate with one of the secrets, or is too old.

    Answer such a request with 400 and do not act on its body.
    """


class ApiError(ScimgateError):
    """scimgate answered a request with an error (a SCIM error envelope)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


class CursorExpiredError(ApiError):
    """The cursor is older than the events' retention window (410).

    Events were removed before the application read them: reconcile with the
    directory's users, then start again from the latest cursor.
    """


class AmbiguousUserError(ApiError):
    """A lookup key matches several users (409); ``detail`` names them.

    Never link to one of them by guess: look up by a stronger key.
    """
