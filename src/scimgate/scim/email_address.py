"""E-mail values as the directory has them, deliverable or not.

RFC 7643 §4.1.2 says an e-mail ``value`` SHOULD be an RFC 5321 address; it
does not make the server refuse one that is not. Some clients send a bare name
there, and refusing the user over it would leave a real person unprovisioned
for a cosmetic reason. So any non-empty text is accepted and kept; a value that
parses as an address is normalized as before (its domain lower-cased), and the
normalized view says which values are not deliverable addresses.
"""

import re
from typing import Annotated, ClassVar

import email_validator
from email_validator.rfc_constants import (
    DNS_LABEL_LENGTH_LIMIT,
    DOMAIN_MAX_LENGTH,
    EMAIL_MAX_LENGTH,
    LOCAL_PART_MAX_LENGTH,
)
from pydantic import AfterValidator, StringConstraints
from pydantic.networks import validate_email
from pydantic_core import PydanticCustomError
from scim2_models import AnyExtension, ComplexAttribute, Email
from scim2_models import User as ModelsUser


def is_address(value: str) -> bool:
    """Whether ``value`` parses as an e-mail address (RFC 5321), deliverability unchecked.

    Every user's event payload asks this of each of its e-mails: the common
    plain address is recognised by :func:`plain_address` in a microsecond,
    anything else is parsed (some twenty).
    """
    return plain_address(value) or _parses(value)


def _parses(value: str) -> bool:
    try:
        validate_email(value)
    except PydanticCustomError:
        return False
    return True


_PLAIN = re.compile(
    r"(?P<local>[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*)"
    r"@(?P<domain>(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]+)"
)
"""An ASCII address in its normal form: a dot-atom local part, a lower-case domain of
several labels whose last is letters only."""


def plain_address(value: str) -> bool:
    """Whether ``value`` is a plain ASCII address that certainly parses (False: not known).

    Within what the pattern takes, the parser refuses only what is checked
    here: a part too long, a label such as ``ab--c`` (which also leaves IDNA
    labels to it), and the special-use domains the parser refuses, as it is
    configured when asked (:mod:`scimgate.scim.resources` clears their list).
    """
    matched = _PLAIN.fullmatch(value)
    if matched is None or len(value) > EMAIL_MAX_LENGTH:
        return False
    local, domain = matched["local"], matched["domain"]
    if len(local) > LOCAL_PART_MAX_LENGTH or len(domain) > DOMAIN_MAX_LENGTH or "--" in domain:
        return False
    if any(len(label) > DNS_LABEL_LENGTH_LIMIT for label in domain.split(".")):
        return False
    return not any(
        domain == special or domain.endswith("." + special)
        for special in email_validator.SPECIAL_USE_DOMAIN_NAMES
    )


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
