"""Running a coroutine from a test, whatever the test's thread already runs.

The browser tests' Playwright driver keeps an event loop running in the main
thread for the whole session; ``asyncio.run`` refuses to start a second one
there. A test's coroutine therefore runs in a thread of its own.
"""

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

_Result = TypeVar("_Result")


def run_apart(coroutine: Coroutine[Any, Any, _Result]) -> _Result:
    """``asyncio.run(coroutine)`` in a new thread: its result, or its exception raised here."""
    outcome: list[_Result] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(asyncio.run(coroutine))
        except BaseException as exc:  # the test's to see
            failure.append(exc)

    thread = threading.Thread(target=run, name="test-event-loop")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return outcome[0]
