"""Weak entity tags over resource versions (RFC 7644 §3.14)."""

from scim2_models import PreconditionFailedException


def etag(version: int) -> str:
    return f'W/"{version}"'


def check_if_match(if_match: str | None, version: int) -> None:
    """Refuse a write whose ``If-Match`` names another version of the resource (412)."""
    if if_match is None:
        return
    current = etag(version)
    candidates = {candidate.strip() for candidate in if_match.split(",")}
    if "*" in candidates or current in candidates or current[2:] in candidates:
        return
    raise PreconditionFailedException(
        detail=f"If-Match {if_match} does not match the current version {current}; "
        "read the resource again and retry with its ETag"
    )


def matches_if_none_match(if_none_match: str | None, version: int) -> bool:
    """Whether a read can answer 304 Not Modified."""
    if if_none_match is None:
        return False
    current = etag(version)
    candidates = {candidate.strip() for candidate in if_none_match.split(",")}
    return "*" in candidates or current in candidates or current[2:] in candidates
