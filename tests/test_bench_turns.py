"""The benchmark's runs in turns: which server runs when, and the ratio the targets read."""

import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from measurements import Measurement
from report import PEER, SQLITE, Report, Sizes
from turns import in_turns, initial_sync_speed
from workloads import W1_CASE


def _run(server: str, rate: float) -> Measurement:
    return Measurement("W1", W1_CASE, server, requests=int(rate * 10), seconds=10)


def test_the_servers_take_turns_and_each_pair_gives_a_ratio() -> None:
    order: list[tuple[str, int]] = []
    # The machine slows down run after run: what a pair compares, it compares at one speed.
    speeds = iter([1.0, 0.9, 0.8, 0.7, 0.6, 0.5])

    def measure(server: str, rate: float) -> Callable[[int], Measurement]:
        def run(turn: int) -> Measurement:
            order.append((server, turn))
            return _run(server, rate * next(speeds))

        return run

    taken = in_turns(measure(SQLITE, 300), measure(PEER, 200), pairs=3)

    assert order == [(SQLITE, 0), (PEER, 1), (PEER, 2), (SQLITE, 3), (SQLITE, 4), (PEER, 5)]
    assert [m.server for m in taken.ours] == [SQLITE] * 3
    # 300 against 180, 160 against 210, 180 against 100 requests a second.
    assert [round(r, 3) for r in taken.ratios()] == [1.667, 1.312, 1.8]
    assert taken.median() == taken.ratios()[0]


def test_a_pair_with_a_failed_run_gives_no_ratio() -> None:
    failed = Measurement("W1", W1_CASE, SQLITE, 0, 10, notes={"failed": True})
    ours = iter([_run(SQLITE, 300), failed])
    theirs = iter([_run(PEER, 100), _run(PEER, 100)])

    taken = in_turns(lambda _: next(ours), lambda _: next(theirs), pairs=2)

    assert taken.ratios() == [3.0]
    assert taken.median() == 3.0


def test_the_target_reads_the_median_of_the_turns_before_the_two_table_runs() -> None:
    table = [_run(SQLITE, 300), _run(PEER, 300)]
    turns = in_turns(lambda _: _run(SQLITE, 500), lambda _: _run(PEER, 200), pairs=3)
    sizes = Sizes(10_000, 1_000_000, (0,))

    with_turns = Report(table, sizes, extras={"turns": [turns.as_json()]}).targets()
    without = Report(table, sizes).targets()

    assert with_turns[0].name == without[0].name == "W1 creates/s vs scim2-server"
    assert with_turns[0].met is True
    assert with_turns[0].measured == "2.50x (median of 3 pairs in turns, 2.50x-2.50x)"
    assert without[0].met is False
    assert without[0].measured == "1.00x"


def test_an_initial_sync_compares_by_the_peers_time_over_ours() -> None:
    def synced(server: str, seconds: float) -> Measurement:
        notes = {"initial_sync_seconds": seconds}
        return Measurement("W5", "generic initial sync", server, 30_000, seconds, notes=notes)

    taken = in_turns(
        lambda _: synced(SQLITE, 20), lambda _: synced(PEER, 50), 1, initial_sync_speed
    )

    assert taken.ratios() == [2.5]
