"""scimgate and scim2-server measured in turns: the ratio of two servers on a shared machine.

The suite measures scimgate, then minutes later the peer. On a machine whose
cores are shared with other work, what a core gives can change by a third from
one minute to the next (the same loop of Python took 0.45 to 0.81 s of CPU in six
runs a few seconds apart on a machine of the class), so a ratio of two runs made
minutes apart can be off by as much, either way. Here the same case runs on each
server in turn, ``pairs`` times, in the order scimgate-peer, peer-scimgate, … so
that a drift of the machine falls on both alike; each pair gives a ratio, and the
median of the pairs is the figure.

Each turn is a run of its own, as long as the suite's runs of the case, so that a
turn measures what the suite's run measures. For W1 and W2 both servers are up at
once; W5's turns each start a new server (its initial sync needs an empty
directory).
"""

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from measurements import Measurement

Figure = Callable[[Measurement], float | None]
"""What a run is compared by, the more the better; None when the run did not measure it."""


def throughput(m: Measurement) -> float | None:
    return m.throughput if m.requests and not m.notes.get("failed") else None


def initial_sync_speed(m: Measurement) -> float | None:
    """One over W5's initial sync's seconds: a pair's ratio is the peer's time over ours."""
    seconds = m.notes.get("initial_sync_seconds")
    return 1 / seconds if seconds and not m.notes.get("failed") else None


@dataclass(frozen=True)
class Turns:
    """One case, run on both servers in turns: scimgate's runs and the peer's, pair by pair."""

    workload: str
    case: str
    ours: list[Measurement]
    theirs: list[Measurement]
    figure: Figure = throughput

    def ratios(self) -> list[float]:
        """scimgate's figure over the peer's, for each pair where both measured it."""
        found = []
        for mine, peer in zip(self.ours, self.theirs, strict=True):
            ours, theirs = self.figure(mine), self.figure(peer)
            if ours is not None and theirs:
                found.append(ours / theirs)
        return found

    def median(self) -> float | None:
        found = self.ratios()
        return statistics.median(found) if found else None

    def as_json(self) -> dict[str, Any]:
        median = self.median()
        return {
            "workload": self.workload,
            "case": self.case,
            "pairs": len(self.ours),
            "ratios": [round(value, 3) for value in self.ratios()],
            "median_ratio": None if median is None else round(median, 3),
            "ours": [m.as_json() for m in self.ours],
            "theirs": [m.as_json() for m in self.theirs],
        }


def in_turns(
    ours: Callable[[int], Measurement],
    theirs: Callable[[int], Measurement],
    pairs: int,
    figure: Figure = throughput,
) -> Turns:
    """scimgate's run (``ours(turn)``) and the peer's in turns, ``pairs`` times: scimgate first
    in the first pair, then the order alternates. ``turn`` counts every run (0, 1, …), for
    a case that needs its requests to differ from one run to the next (W1's userNames)."""
    mine: list[Measurement] = []
    peer: list[Measurement] = []
    turn = 0
    for pair in range(pairs):
        order = ((ours, mine), (theirs, peer))
        for measure, found in order if pair % 2 == 0 else reversed(order):
            found.append(measure(turn))
            turn += 1
    return Turns(mine[0].workload, mine[0].case, mine, peer, figure)


def lines(taken: list[dict[str, Any]]) -> list[str]:
    """The turns as Markdown, for beside the table."""
    if not taken:
        return []
    out = [
        "scimgate (sqlite) and scim2-server in turns, the same case on each in turn (scimgate "
        "first in the first pair, the order alternating; W1 and W2 with both servers up at "
        "once, W5 on new servers each turn); scimgate's "
        "throughput over the peer's in each pair (W5: the peer's initial sync's time over "
        "scimgate's), and their median (the targets' figure):",
        "",
        "| workload | case | pairs | scimgate | scim2-server | ratio of each pair | median |",
        "| --- | --- | ---: | --- | --- | --- | ---: |",
    ]
    for each in taken:
        ours = ", ".join(_rate(m) for m in each["ours"])
        theirs = ", ".join(_rate(m) for m in each["theirs"])
        ratios = ", ".join(f"{value:.2f}x" for value in each["ratios"]) or "-"
        median = "-" if each["median_ratio"] is None else f"{each['median_ratio']:.2f}x"
        out.append(
            f"| {each['workload']} | {each['case']} | {each['pairs']} | {ours} | {theirs} "
            f"| {ratios} | {median} |"
        )
    return out


def _rate(m: dict[str, Any]) -> str:
    if m["notes"].get("failed"):
        return "failed"
    seconds = m["notes"].get("initial_sync_seconds")
    return f"{seconds:.1f} s" if seconds else f"{m['throughput']:,.0f}/s"
