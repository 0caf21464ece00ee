"""E-mail values as the directory has them, deliverable or not.

RFC 7643 §4.1.2 says an e-mail ``value`` SHOULD be an RFC 5321 address; it
does not make the server refuse one that is not. Some clients send a bare name
there, and refusing the user over it would leave a real person unprovisioned
for a cosmetic reason. So any non-empty text is accepted and kept; a value that
parses as an address is normalized as before (its domain lower-cased), and the
normalized view says which values are not deliverable addresses.
"""

from typing import Annotated, Any

from pydantic import AfterValidator, StringConstraints
from pydantic.networks import validate_email
from pydantic_core import PydanticCustomError
from scim2_models import User
from scim2_models.resources.user import Email


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


def accept_any_email_text() -> None:
    """Make scim2-models' ``emails.value`` an :data:`EmailText` instead of an address only.

    Must run before any model holding ``Email`` is parametrized (``User[EnterpriseUser]``):
    those copy the validator of ``Email`` when they are built.
    """
    field: Any = Email.model_fields["value"]
    field.annotation = EmailText | None
    Email.model_rebuild(force=True)
    User.model_rebuild(force=True)
