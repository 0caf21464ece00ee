"""Weak entity tags over resource versions (RFC 7644 §3.14)."""

from scim2_models import PreconditionFailedException


def etag(version: int) -> str:
    return f'W/"{version}"'


def _names(header: str, current: str) -> bool:
    """Whether a conditional header lists the current ETag (weak comparison, RFC 9110 §8.8.3.2)."""
    candidates = {candidate.strip() for candidate in header.split(",")}
    return "*" in candidates or current in candidates or current[2:] in candidates


def check_if_match(if_match: str | None, version: int) -> None:
    """Refuse a write whose ``If-Match`` names another version of the resource (412)."""
    current = etag(version)
    if if_match is None or _names(if_match, current):
        return
    raise PreconditionFailedException(
        detail=f"If-Match {if_match} does not match the current version {current}; "
        "read the resource again and retry with its ETag"
    )


def matches_if_none_match(if_none_match: str | None, current: str) -> bool:
    """Whether a read of a resource whose ETag is ``current`` can answer 304 Not Modified."""
    return if_none_match is not None and _names(if_none_match, current)
