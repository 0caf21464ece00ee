"""Ids made one after another sort in the order they were made, as pages come in id order."""

import uuid
from concurrent.futures import ThreadPoolExecutor

from scimgate.store.ids import new_id


def test_ids_made_within_a_millisecond_keep_their_order() -> None:
    ids = [new_id() for _ in range(20_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    made = uuid.UUID(ids[-1])
    assert (made.version, made.variant) == (7, uuid.RFC_4122)


def test_ids_made_on_several_threads_are_distinct() -> None:
    with ThreadPoolExecutor(4) as pool:
        batches = list(pool.map(lambda _: [new_id() for _ in range(5_000)], range(4)))
    made = [each for batch in batches for each in batch]
    assert len(set(made)) == len(made)
    assert all(batch == sorted(batch) for batch in batches)


def test_an_id_is_written_in_the_canonical_form_of_a_uuid() -> None:
    for _ in range(1000):
        made = new_id()
        assert str(uuid.UUID(made)) == made
