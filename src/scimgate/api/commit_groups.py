"""Short SCIM writes that arrive together, committed together on the event loop (SQLite).

A create's commit is the costliest step of its request: it writes every page
the transaction touched to the WAL, in the kernel. Writes that arrive in the
same turn of the event loop (several connections of one IdP, several IdPs at
once) are run one after another in one transaction, each in a savepoint of its
own (``store.transactions.committed_together``), and committed once. Each
request is answered only after that commit, so every 2xx still stands for a
durable row and its event; a request that fails costs only itself, its
savepoint rolled back; a commit that fails answers every request of the group
with the error, none of their changes made.

A group is gathered without a timer: writes join it while the loop
runs the requests that arrived with them, and for up to three more turns of
the loop (``_flush``), then it is written once this process's write turn is
free. It waits for that turn without holding the loop (``api.loop_turns``). A
group of one write takes its own transaction, without a savepoint.

The turns after are for the requests read from their sockets after the
group's first write ran: a request read in a turn begins to run in the next
one, where a group written at once would already be gone. Clients' writes
arrive staggered rather than together: an IdP's sync threads each send a
lookup, then a create; a load generator's threads each send their
connections' next requests as their own answers arrive. Under wrk's eight
connections on two threads, a group that waited one turn committed most
creates in fours, each thread's half apart; waiting up to three, in eights.
A group waits only while it may gain by it. When no other request was in
flight since the last commit (``InFlight``), as with a client sending one
request at a time, nothing can join it and it is written in the next turn.
Past its first extra turn it gathers only within ``GATHERING_SECONDS`` of
its first write: under fifty connections a turn runs dozens of requests'
work, and a group that waited three such turns held its writes for all of
them (W6 did some 6% fewer requests a second). A bound of one millisecond
likely cut W1's gathering short too, once its database had grown and its
turns with it.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine
from starlette.responses import Response

from scimgate.api.loop_turns import with_turn
from scimgate.store.transactions import committed_together

GROUP_LIMIT = 32
"""The most writes committed together: about 15 ms of the loop's time at most."""

MOST_TURNS_GATHERING = 3
"""Turns of the loop a group may gather for after the one its first write ran in."""

GATHERING_SECONDS = 0.004
"""How long after its first write a group may still gather for another turn."""

Work = Callable[[], Response]
"""A request's whole handling, run on the loop: its writes are made in the group's
transaction, its errors are its answer."""


class InFlight:
    """The requests in flight on one event loop (``now``), and the most at once since a
    group was last committed (``most``)."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0

    def enter(self) -> None:
        self.now += 1
        self.most = max(self.most, self.now)

    def leave(self) -> None:
        self.now -= 1


@dataclass
class _Pending:
    work: Work
    answer: "asyncio.Future[Response]"


class CommitGroups:
    """The short writes of one engine, gathered and committed together on one event loop."""

    def __init__(
        self,
        engine: Engine,
        loop: asyncio.AbstractEventLoop,
        in_flight: InFlight | None = None,
    ) -> None:
        """``in_flight`` counts the requests on ``loop``: a group waits for more writes only
        if another request was in flight beside its own since the last commit (without it,
        always)."""
        self.loop = loop
        self._engine = engine
        self._in_flight = in_flight
        self._pending: list[_Pending] = []
        self._scheduled = False
        self._until = 0.0

    async def run(self, work: Work) -> Response:
        """The answer of ``work``, once it is committed with the writes gathered beside it.

        An exception raised by ``work`` (or by the group's commit) is raised here."""
        pending = _Pending(work, self.loop.create_future())
        self._pending.append(pending)
        if not self._scheduled:
            self._scheduled = True
            self._until = self.loop.time() + GATHERING_SECONDS
            self.loop.call_soon(self._flush, MOST_TURNS_GATHERING)
        return await pending.answer

    def _flush(self, turns_left: int = 0) -> None:
        """Write the group once it has gathered for ``turns_left`` more turns of the loop (past
        the first, within ``GATHERING_SECONDS``), or is full, or no other request was in
        flight since the last commit; with the write turn."""
        if (
            turns_left
            and len(self._pending) < GROUP_LIMIT
            and self._beside_others()
            and (turns_left == MOST_TURNS_GATHERING or self.loop.time() < self._until)
        ):
            self.loop.call_soon(self._flush, turns_left - 1)
            return
        with_turn(self._engine, self.loop, self._commit_pending)

    def _beside_others(self) -> bool:
        return self._in_flight is None or self._in_flight.most > 1

    def _commit_pending(self) -> None:
        """With the write turn: commit what has gathered, as many groups as it makes."""
        if self._in_flight is not None:
            self._in_flight.most = self._in_flight.now
        group = self._pending[:GROUP_LIMIT]
        del self._pending[:GROUP_LIMIT]
        _commit(self._engine, group)
        if self._pending:
            self.loop.call_soon(self._flush)
        else:
            self._scheduled = False


def _commit(engine: Engine, group: list[_Pending]) -> None:
    """Run the group's work and commit it; settle every answer with what came of it."""
    if len(group) == 1:  # alone: its own transaction, without a savepoint's statements
        _settle([(group[0], _outcome(group[0].work))])
        return
    try:
        with committed_together(engine):
            outcomes = [(each, _outcome(each.work)) for each in group]
    except Exception as exc:  # the commit failed: none of the group's changes were made
        for each in group:
            if not each.answer.done():
                each.answer.set_exception(exc)
        return
    _settle(outcomes)


def _outcome(work: Work) -> Response | Exception:
    try:
        return work()
    except Exception as exc:
        return exc


def _settle(outcomes: list[tuple[_Pending, Response | Exception]]) -> None:
    for pending, outcome in outcomes:
        if pending.answer.done():  # its request was cancelled: its client left
            continue
        if isinstance(outcome, Exception):
            pending.answer.set_exception(outcome)
        else:
            pending.answer.set_result(outcome)
