"""The form strings are compared in when an attribute is not ``caseExact``."""

from unicodedata import normalize


def fold(value: str) -> str:
    """Return the comparison form of a string: NFC, lower case, NFC again.

    This is what ``scim2_models.default_comparison_key`` does for an attribute
    that is not ``caseExact``; the database applies the same function (as
    ``scim_fold``) so that a filter evaluated in SQL agrees with one evaluated
    in memory.
    """
    return normalize("NFC", normalize("NFC", value).lower())
