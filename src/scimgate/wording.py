"""Words for people: a count with its noun in the right number ("1 event", "2 events")."""


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``count`` and ``noun``, plural unless the count is one (``plural`` when not noun + s)."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"
