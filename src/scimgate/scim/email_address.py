"""E-mail values as the directory has them, deliverable or not.

RFC 7643 §4.1.2 says an e-mail ``value`` SHOULD be an RFC 5321 address; it
does not make the server refuse one that is not. Some clients send a bare name
there, and refusing the user over it would leave a real person unprovisioned
for a cosmetic reason. So any non-empty text is accepted and kept; a value that
parses as an address is normalized as before (its domain lower-cased), and the
normalized view says which values are not deliverable addresses.
"""

from typing import Annotated, ClassVar

from pydantic import AfterValidator, StringConstraints
from pydantic.networks import validate_email
from pydantic_core import PydanticCustomError
from scim2_models import AnyExtension, ComplexAttribute, Email
from scim2_models import User as ModelsUser


def is_address(value: str) -> bool:
    """Whether ``value`` parses as an e-mail address (RFC 5321), deliverability unchecked."""
    try:
        validate_email(value)
    except PydanticCustomError:
        return False
    return True


def _normalized(value: str) -> str:
    """An address in its normal form; any other text as it was sent, unless it is blank."""
    if not value.strip():
        raise PydanticCustomError("blank_email", "an e-mail value may not be only white space")
    try:
        return validate_email(value)[1]
    except PydanticCustomError:
        return value


EmailText = Annotated[str, StringConstraints(min_length=1), AfterValidator(_normalized)]
"""An e-mail ``value``: any non-empty text, normalized where it is an address."""


class DirectoryEmail(Email):
    """An e-mail of a user as the directory holds it: ``value`` is any non-empty text."""

    value: EmailText | None = None
    """The e-mail address, or whatever text the IdP sent in its place."""


class User(ModelsUser[AnyExtension]):
    """User Account.

    scim2-models' ``User``, its ``emails`` holding :class:`DirectoryEmail`: every
    model of a user scimgate builds (bodies, PATCH targets, filter values) goes
    through this class, so one definition decides what an e-mail value may be.
    """

    # Narrowing a field's type is how a pydantic model is specialised; lists are invariant.
    emails: list[DirectoryEmail] | None = None  # type: ignore[assignment]
    """Email addresses for the user."""

    Emails: ClassVar[type[ComplexAttribute]] = DirectoryEmail
