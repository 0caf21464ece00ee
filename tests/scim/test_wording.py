"""Counts read as English: one of a thing, several things."""

import pytest

from scimgate.wording import counted


@pytest.mark.parametrize(
    ("count", "noun", "plural", "said"),
    [
        (1, "deprovisioning", None, "1 deprovisioning"),
        (0, "deprovisioning", None, "0 deprovisionings"),
        (2, "event", None, "2 events"),
        (1_200, "user", None, "1,200 users"),
        (3, "entry", "entries", "3 entries"),
        (1, "entry", "entries", "1 entry"),
    ],
)
def test_a_count_takes_the_right_number(
    count: int, noun: str, plural: str | None, said: str
) -> None:
    assert counted(count, noun, plural) == said
