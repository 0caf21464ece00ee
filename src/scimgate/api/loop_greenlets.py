"""PostgreSQL: the SCIM edge's blocking step run on the event loop, in a greenlet.

In a worker thread, each of a request's round trips to PostgreSQL handed the
interpreter lock between that thread, the other workers and the loop: a create
switched threads some 65 times, and a third of the server's CPU went to the
kernel switching and waking them. In a greenlet on the loop
(SQLAlchemy's ``greenlet_spawn``), the same synchronous code runs over the
engine of ``store.loop_engines``, whose connections wait for the
database on the loop: a round trip suspends the greenlet, and the loop serves
other requests meanwhile.
"""

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

from scimgate.api.worker_threads import outlasting_cancellation
from scimgate.store import loop_engines

_Result = TypeVar("_Result")


async def in_greenlet(function: Callable[..., _Result], *args: Any) -> _Result:
    """The result of ``function(*args)``, run in a greenlet on the running loop.

    A request cancelled meanwhile still waits for the call to end, as one in a worker
    thread does: a transaction is not cut off between its statements, and what the call
    leaves in the request's state is final before the provisioning log reads it.
    """
    running = asyncio.ensure_future(loop_engines.in_greenlet(function, *args))
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        await outlasting_cancellation(running)
        with contextlib.suppress(BaseException):
            running.result()  # retrieved: nobody waits for it any more
        raise
