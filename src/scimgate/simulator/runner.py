"""Sending the lifecycle's requests and keeping score, step by step."""

import statistics
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from scimgate.simulator import wire

Item = TypeVar("Item")

THROTTLED = (429, 503)
"""Answers that ask the client to come back later, after ``Retry-After`` seconds."""

REFUSED = (401, 403)
"""Answers that refuse the token: every later request would be refused too."""

MAX_RETRIES = 20
"""How many times one request is sent again after a ``Retry-After``, as an IdP would."""

MAX_WAIT = 60.0
"""The longest single wait honoured, in seconds; a longer ``Retry-After`` is capped."""


@dataclass
class Failure:
    step: str
    request: str
    status: int | None
    response: str


@dataclass
class StepReport:
    """How one step of the lifecycle went."""

    name: str
    requests: int = 0
    failures: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) if self.latencies else 0.0

    @property
    def p99(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else 0.0


@dataclass
class Report:
    steps: list[StepReport] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    throttled: int = 0
    """Answers 429 (or 503) whose ``Retry-After`` was waited out before sending again."""

    waited: float = 0.0
    """Seconds spent waiting out ``Retry-After``."""

    stopped: str | None = None
    """Why the lifecycle stopped before its end: the server was out of reach, refused the
    token, or failed discovery. Nothing is sent after it."""

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def requests(self) -> int:
        return sum(step.requests for step in self.steps)


class Headers(Protocol):
    """An answer's headers, read by name in any case."""

    def get(self, name: str, default: str, /) -> str: ...


class Answer(Protocol):
    """What ``refusal`` and ``retry_after`` read of an answer: the simulator's own
    (``wire.Response``), or an ``httpx.Response``."""

    @property
    def status_code(self) -> int: ...

    @property
    def reason_phrase(self) -> str: ...

    @property
    def headers(self) -> Headers: ...

    def json(self) -> Any: ...


class Session:
    """One SCIM client with the IdP's headers, recording every exchange in a report.

    With a ``concurrency`` above 1, ``each`` works through a step's items with
    that many requests in flight, as an IdP's provisioning job may; the
    exchanges of a step are recorded under a lock. Requests go through
    ``wire.Client``, whose keep-alive connections serve every step.
    """

    def __init__(self, base_url: str, token: str, user_agent: str, concurrency: int = 1) -> None:
        if concurrency < 1:
            raise ValueError("concurrency is at least 1")
        self.concurrency = concurrency
        self.http = wire.Client(
            base_url,
            {
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/scim+json; charset=utf-8",
                "User-Agent": user_agent,
            },
        )
        self.base_url = self.http.base_url
        """The SCIM base URL without a trailing slash, as requests are sent to it."""
        self.report = Report()
        self._step: StepReport | None = None
        self._lock = threading.Lock()

    def each(self, items: Iterable[Item], action: Callable[[Item], object]) -> None:
        """``action`` on every item: in order, or ``concurrency`` at a time."""
        if self.concurrency == 1:
            for item in items:
                action(item)
            return
        with ThreadPoolExecutor(self.concurrency) as pool:
            for _ in pool.map(action, items):
                pass

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        self._step = StepReport(name)
        started = time.perf_counter()
        try:
            yield
        finally:
            self._step.seconds = time.perf_counter() - started
            self.report.steps.append(self._step)
            self._step = None

    def send(
        self,
        method: str,
        path: str,
        expect: tuple[int, ...],
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """Send a request; a status outside ``expect`` is a failure. Returns the JSON body.

        A 429 or 503 with ``Retry-After`` is waited out and sent again, as an IdP does.
        """
        step = self._step
        assert step is not None, "requests are sent within a step"
        if self.report.stopped is not None:
            return None
        with self._lock:
            step.requests += 1
        for attempt in range(MAX_RETRIES + 1):
            started = time.perf_counter()
            try:
                response = self.http.request(method, path, json=json, params=params)
            except wire.TransportError as exc:
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                self._fail(method, path, json, None, reason)
                self.stop(f"cannot reach {self.base_url} ({reason})")
                return None
            if response.status_code not in THROTTLED or attempt == MAX_RETRIES:
                break
            wait = retry_after(response)
            if wait is None:
                break
            # Entra ID, Okta and the others back off for as long as the server asks.
            with self._lock:
                self.report.throttled += 1
                self.report.waited += wait
            time.sleep(wait)
        with self._lock:
            step.latencies.append((time.perf_counter() - started) * 1000)
        if response.status_code not in expect:
            self._fail(method, path, json, response.status_code, response.text)
            if response.status_code in REFUSED:
                self.stop(f"the server refused the token: {refusal(response)}")
            return None
        return response.json() if response.content else {}

    def stop(self, reason: str) -> None:
        """End the run: every later request is skipped. The first reason given is kept."""
        with self._lock:
            if self.report.stopped is None:
                self.report.stopped = reason

    def check(self, condition: bool, what: str) -> None:
        """Record a failed expectation about what the server answered."""
        if not condition:
            step = self._step
            assert step is not None
            with self._lock:
                step.failures += 1
                self.report.failures.append(Failure(step.name, what, None, ""))

    def _fail(self, method: str, path: str, body: Any, status: int | None, text: str) -> None:
        step = self._step
        assert step is not None
        request = f"{method} {path}" + (f" {body}" if body is not None else "")
        with self._lock:
            step.failures += 1
            self.report.failures.append(Failure(step.name, request[:600], status, text[:600]))

    def close(self) -> None:
        self.http.close()


def refusal(response: Answer) -> str:
    """A refused request in words: its status and the SCIM error's detail, if any."""
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    phrase = response.reason_phrase or ""
    return f"{response.status_code} {phrase}".strip() + (f": {detail}" if detail else "")


def retry_after(response: Answer) -> float | None:
    """The seconds a throttled answer asks for (at most ``MAX_WAIT``); None without a
    ``Retry-After`` in seconds, which leaves the answer a failure like any other."""
    try:
        seconds = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None
    return min(max(seconds, 0.0), MAX_WAIT)
