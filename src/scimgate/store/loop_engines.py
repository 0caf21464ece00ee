"""PostgreSQL: an engine whose connections wait for the database on the event loop.

Its ``sync_engine`` is used as any engine is, with the listeners, pings and keyring
:func:`store.engine.open_engine` gives, but only in a greenlet that
:func:`in_greenlet` started on the loop: each round trip then suspends the
greenlet and waits on the loop (psycopg's asynchronous connection) instead of
blocking a thread. It has a pool of its own, beside the engine the other threads use.
"""

import asyncio
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.util import greenlet_spawn

from scimgate.config import PoolSettings
from scimgate.store.driver_errors import translate_conflicts
from scimgate.store.encryption import Keyring, attach
from scimgate.store.engine import is_sqlite, postgresql_options
from scimgate.store.pool_pings import ping_when_idle

_Result = TypeVar("_Result")


def open_loop_engine(
    url: str, pool: PoolSettings | None = None, encryption_keys: Sequence[str] = ()
) -> AsyncEngine | None:
    """The loop's engine for a PostgreSQL database URL; None for SQLite, whose requests run
    on the loop or in threads over its one engine."""
    if is_sqlite(url):
        return None
    engine = create_async_engine(
        make_url(url).set(drivername="postgresql+psycopg_async"), **postgresql_options(pool)
    )
    ping_when_idle(engine.sync_engine)
    translate_conflicts(engine.sync_engine)
    attach(engine.sync_engine, Keyring.parse(encryption_keys))
    return engine


def disposed_with(engine: Engine, loop_engine: AsyncEngine) -> None:
    """Dispose of ``loop_engine`` whenever ``engine`` is disposed of, so that whoever
    releases a process's connections by disposing of its engine releases the loop's too.

    The loop's connections are closed on a loop of their own, in a thread of its own,
    before this returns: the thread disposing of ``engine`` may have a loop that is not
    running it (a test's browser driver keeps one in the main thread), where a task
    would wait for its turn indefinitely.
    """

    def dispose(_engine: Engine) -> None:
        closing = threading.Thread(
            target=asyncio.run, args=(loop_engine.dispose(),), name="scimgate-dispose"
        )
        closing.start()
        closing.join()

    event.listen(engine, "engine_disposed", dispose)


async def in_greenlet(function: Callable[..., _Result], *args: Any) -> _Result:
    """The result of ``function(*args)``, run in a new greenlet on the running loop."""
    return await greenlet_spawn(function, *args)
