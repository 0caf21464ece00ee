"""The threads the SCIM edge runs its blocking calls in: one hop per call, off the event loop.

anyio's ``to_thread.run_sync`` takes a capacity limiter token, looks up its run
variables and opens cancel scopes for every call. A thread pool executor costs less
per call, but its idle threads all wait on one queue, and under load its slowest
answers came later than anyio's. Here, as with anyio's workers, a call goes to the
thread that went idle last, through that thread's own queue, and its outcome
comes back to the event loop in one callback.
"""

import asyncio
import contextlib
import contextvars
import threading
from collections import deque
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any, Generic, TypeVar

WORKER_THREADS = 40
"""The most threads the edge runs calls in at once: as many as anyio's default thread pool,
which the other routes use, has."""

_Result = TypeVar("_Result")

_WAITING, _RUNNING, _ENDED = "waiting", "running", "ended"


class _Call(Generic[_Result]):
    """One call on its way: what to run, where its answer goes, and how far it has got."""

    def __init__(
        self, function: Callable[..., _Result], args: tuple[Any, ...], answer: asyncio.Future[Any]
    ) -> None:
        self.function = function
        self.args = args
        self.context = contextvars.copy_context()
        self.loop = answer.get_loop()
        self.answer = answer
        self.state = _WAITING
        self.result: Any = None
        self.error: BaseException | None = None
        self.ended: list[asyncio.Future[None]] = []
        """Told when the call has returned: requests cancelled while it ran."""

    def run(self) -> None:
        """In a worker thread: call, keeping the outcome for ``report``."""
        try:
            self.result = self.context.run(self.function, *self.args)
        except BaseException as exc:  # the caller's to see
            self.error = exc

    def report(self) -> None:
        """Hand the outcome to the event loop, and tell the requests waiting for the end."""
        if self.error is None:
            self.tell(_succeed, self.answer, self.result)
        else:
            self.tell(_fail, self.answer, self.error)
        for ended in self.ended:
            self.tell(_end, ended)

    def tell(self, callback: Callable[..., None], *args: Any) -> None:
        """Have the event loop call ``callback``: unless it has closed, since then nobody
        waits."""
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(callback, *args)


def _succeed(answer: asyncio.Future[Any], result: Any) -> None:
    if not answer.done():  # not cancelled meanwhile
        answer.set_result(result)


def _fail(answer: asyncio.Future[Any], exc: BaseException) -> None:
    if not answer.done():
        answer.set_exception(exc)


def _end(ended: asyncio.Future[None]) -> None:
    if not ended.done():
        ended.set_result(None)


class _Pool:
    """Threads started as calls need them, up to ``size``; closed, they end once idle."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.lock = threading.Lock()
        self.idle: list[SimpleQueue[_Call[Any] | None]] = []
        """The queues of the idle threads, the one idle since the shortest time last."""
        self.waiting: deque[_Call[Any]] = deque()
        self.started = 0
        self.closed = False

    def submit(self, call: _Call[Any]) -> None:
        with self.lock:
            if self.idle:
                call.state = _RUNNING
                self.idle.pop().put(call)
                return
            if self.started < self.size:
                self.started += 1
                call.state = _RUNNING
                inbox: SimpleQueue[_Call[Any] | None] = SimpleQueue()
                inbox.put(call)
                threading.Thread(
                    target=self._serve, args=(inbox,), name=f"scim-edge-{self.started}", daemon=True
                ).start()
                return
            self.waiting.append(call)

    def _serve(self, inbox: "SimpleQueue[_Call[Any] | None]") -> None:
        call = inbox.get()
        while call is not None:
            call.run()
            following: _Call[Any] | None = None
            with self.lock:
                call.state = _ENDED
                if self.waiting:
                    following = self.waiting.popleft()
                    following.state = _RUNNING
                elif not self.closed:
                    self.idle.append(inbox)
            # Idle before the answer arrives: the request's next call finds this thread.
            call.report()
            if following is None and not self.closed:
                following = inbox.get()
            call = following

    def withdraw(self, call: _Call[Any]) -> asyncio.Future[None] | None:
        """Take back a call: a future told when it has returned if it is running, else None
        (it had not started, and never will, or it has returned)."""
        with self.lock:
            if call.state == _WAITING:
                self.waiting.remove(call)
            if call.state != _RUNNING:
                return None
            ended = call.loop.create_future()
            call.ended.append(ended)
            return ended

    def close(self) -> None:
        with self.lock:
            self.closed = True
            idle, self.idle = self.idle, []
        for inbox in idle:
            inbox.put(None)


class WorkerThreads:
    """The threads the edge runs its blocking calls in, each call in the caller's context
    (so that its log lines carry the request id)."""

    def __init__(self, size: int = WORKER_THREADS) -> None:
        self.size = size
        self._pool = _Pool(size)

    async def run(self, function: Callable[..., _Result], *args: Any) -> _Result:
        """The result of ``function(*args)``, called in a worker thread.

        A request cancelled meanwhile still waits for a call that has started, as with
        anyio's ``run_sync``: what the call leaves in the request's state (its directory,
        its confirmations) is final before the provisioning log reads it. A call that
        has not started never does.
        """
        call: _Call[_Result] = _Call(function, args, asyncio.get_running_loop().create_future())
        pool = self._pool
        pool.submit(call)
        try:
            result: _Result = await call.answer
            return result
        except asyncio.CancelledError:
            ended = pool.withdraw(call)
            if ended is not None:
                await _outlasting_cancellation(ended)
            raise

    def close(self) -> None:
        """Let the threads end once the calls they run have returned; a later call (the
        application served again) starts new ones."""
        closing, self._pool = self._pool, _Pool(self.size)
        closing.close()


async def _outlasting_cancellation(ended: asyncio.Future[None]) -> None:
    """Once ``ended`` is done, whatever cancellations arrive meanwhile."""
    while not ended.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait([ended])
