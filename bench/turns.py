"""scimgate and scim2-server measured in turns: the ratio of two servers on a shared machine.

The suite measures scimgate, then minutes later the peer. On a machine whose
cores are shared with other work, what a core gives can change by a third from
one minute to the next (the same loop of Python took 0.45 to 0.81 s of CPU in six
runs a few seconds apart on a machine of the class), so a ratio of two runs made
minutes apart can be off by as much, either way. Here both servers are up at once
and the same case runs on each in turn, ``pairs`` times, in the order
scimgate-peer, peer-scimgate, … so that a drift of the machine falls on both
alike; each pair gives a ratio, and the median of the pairs is the figure.

Each turn is a run of its own, as long as the suite's runs of the case, so that a
turn measures what the suite's run measures.
"""

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from measurements import Measurement
from servers import Server


@dataclass(frozen=True)
class Turns:
    """One case, run on both servers in turns: scimgate's runs and the peer's, pair by pair."""

    workload: str
    case: str
    ours: list[Measurement]
    theirs: list[Measurement]

    def ratios(self) -> list[float]:
        """scimgate's throughput over the peer's, for each pair that both answered in full."""
        return [
            mine.throughput / peer.throughput
            for mine, peer in zip(self.ours, self.theirs, strict=True)
            if _answered(mine) and _answered(peer) and peer.throughput
        ]

    def median(self) -> float | None:
        found = self.ratios()
        return statistics.median(found) if found else None

    def as_json(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "case": self.case,
            "pairs": len(self.ours),
            "ratios": [round(value, 3) for value in self.ratios()],
            "median_ratio": None if self.median() is None else round(self.median() or 0, 3),
            "ours": [m.as_json() for m in self.ours],
            "theirs": [m.as_json() for m in self.theirs],
        }


def _answered(m: Measurement) -> bool:
    return bool(m.requests) and not m.notes.get("failed")


def in_turns(
    ours: Server,
    theirs: Server,
    measure: Callable[[Server, int], Measurement],
    pairs: int,
) -> Turns:
    """``measure(server, turn)`` on each server in turns, ``pairs`` times: scimgate first in
    even pairs, the peer first in odd ones. ``turn`` counts every run (0, 1, …), for a case
    that needs its requests to differ from one run to the next (W1's userNames)."""
    found: dict[str, list[Measurement]] = {ours.name: [], theirs.name: []}
    turn = 0
    for pair in range(pairs):
        for server in (ours, theirs) if pair % 2 == 0 else (theirs, ours):
            found[server.name].append(measure(server, turn))
            turn += 1
    first = found[ours.name][0]
    return Turns(first.workload, first.case, found[ours.name], found[theirs.name])


def lines(taken: list[dict[str, Any]]) -> list[str]:
    """The turns as Markdown, for beside the table."""
    if not taken:
        return []
    out = [
        "scimgate (sqlite) and scim2-server in turns, both up at once, the same case on each "
        "in turn (scimgate first in the first pair, the order alternating); scimgate's "
        "throughput over the peer's in each pair, and their median (the targets' figure):",
        "",
        "| workload | case | pairs | scimgate req/s | scim2-server req/s | ratio of each pair "
        "| median |",
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
    return f"{m['throughput']:,.0f}" if m.get("throughput") else "failed"
