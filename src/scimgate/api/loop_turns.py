"""Work run on the event loop while it holds this process's SQLite write turn.

The loop's own writes (short SCIM writes, ``api.commit_groups``; the provisioning
log's batches, ``api.log_batches``) must not wait for the turn while a worker
thread has it: the loop would answer nothing meanwhile. Such work runs at once
when the turn is free, and otherwise once the thread holding it leaves it
(``store.engine.when_turn_left``), the loop serving other requests until then.
"""

import asyncio
from collections.abc import Callable
from contextlib import suppress

from sqlalchemy import Engine

from scimgate.store.engine import turn_if_free, when_turn_left


def with_turn(engine: Engine, loop: asyncio.AbstractEventLoop, work: Callable[[], None]) -> None:
    """Run ``work`` once, on ``loop`` (the running one), holding the write turn: now if it is
    free, else as soon as a thread leaves it. SQLite only: on PostgreSQL there is no turn
    and ``work`` would never run."""
    done = False

    def attempt() -> bool:
        nonlocal done
        with turn_if_free(engine) as ours:
            if ours and not done:
                done = True
                work()
        return done

    def again() -> None:
        if not attempt():
            wait()

    def wake() -> None:  # in the thread that left the turn
        with suppress(RuntimeError):  # the loop is closed: nobody waits for the work any more
            loop.call_soon_threadsafe(again)

    def wait() -> None:
        when_turn_left(engine, wake)
        # Then try once more: the turn may have been left before the wake-up was asked for.
        attempt()

    if not attempt():
        wait()


def posted(engine: Engine, loop: asyncio.AbstractEventLoop) -> Callable[[Callable[[], None]], None]:
    """What another thread calls to have work run once on ``loop``, holding the write turn
    (``with_turn``), without waiting for it: SQLite's checkpoints hand their last pass so
    (``store.checkpoints``). Once the loop is closed, nothing runs."""

    def post(work: Callable[[], None]) -> None:
        with suppress(RuntimeError):  # the loop is closed: the process is stopping
            loop.call_soon_threadsafe(with_turn, engine, loop, work)

    return post
