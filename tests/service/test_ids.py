"""Ids made one after another sort in the order they were made, as pages come in id order."""

import os
import signal
import uuid
from concurrent.futures import ThreadPoolExecutor

from scimgate.store import ids
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


def _random_bits(made: str) -> int:
    return uuid.UUID(made).int & (2**62 - 1)


def test_a_forked_child_draws_random_bits_of_its_own() -> None:
    """The random bits come from a block drawn ahead; a child must not reuse its parent's."""
    new_id()  # the parent now holds a block, most of it unused
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.write(writing, " ".join(new_id() for _ in range(50)).encode())
        finally:
            os._exit(0)
    os.close(writing)
    with os.fdopen(reading) as pipe:
        childs = pipe.read().split()
    os.waitpid(child, 0)
    parents = [new_id() for _ in range(50)]
    assert len(childs) == 50
    assert not {_random_bits(each) for each in childs} & {_random_bits(each) for each in parents}


def test_a_child_forked_while_an_id_was_being_made_makes_ids() -> None:
    """Another thread of the parent may hold the ids' lock when it forks; the child's is free."""
    with ids._last_lock:  # as a thread making an id when the process forks
        child = os.fork()
        if child == 0:  # pragma: no cover - the child reports by its exit status
            signal.alarm(5)  # stuck on the inherited lock, it would be killed by SIGALRM
            new_id()
            os._exit(0)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
