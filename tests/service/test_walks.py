"""Where sequential startIndex walks resume: one memory per database, bounded, read once."""

from sqlalchemy import create_engine

from scimgate.service.provisioning.walks import WalkKey, WalkPositions, walks_of

FIRST = WalkKey("directory", "User", None, 100, 1)


def test_the_next_page_of_a_walk_starts_a_page_later() -> None:
    assert FIRST.next_page() == WalkKey("directory", "User", None, 100, 101)
    assert FIRST.next_page().next_page().start_index == 201


def test_a_remembered_position_is_read_once() -> None:
    walks = WalkPositions()
    walks.remember(FIRST.next_page(), "last-id")
    assert walks.resume_after(FIRST) is None
    assert walks.resume_after(FIRST.next_page()) == "last-id"
    assert walks.resume_after(FIRST.next_page()) is None


def test_past_capacity_the_oldest_walks_are_forgotten() -> None:
    walks = WalkPositions(capacity=2)
    keys = [WalkKey(f"directory {n}", "User", None, 100, 101) for n in range(3)]
    for n, key in enumerate(keys):
        walks.remember(key, f"id {n}")
    assert [walks.resume_after(key) for key in keys] == [None, "id 1", "id 2"]


def test_each_database_has_its_own_walks() -> None:
    one, other = create_engine("sqlite://"), create_engine("sqlite://")
    assert walks_of(one) is walks_of(one)
    assert walks_of(one) is not walks_of(other)
    walks_of(one).remember(FIRST.next_page(), "last-id")
    assert walks_of(other).resume_after(FIRST.next_page()) is None
    assert walks_of(one).resume_after(FIRST.next_page()) == "last-id"
