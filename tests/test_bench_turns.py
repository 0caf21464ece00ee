"""The benchmark's runs in turns: which server runs when, and the ratio the targets read."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from measurements import Measurement
from report import PEER, SQLITE, Report, Sizes
from servers import Server
from turns import in_turns
from workloads import W1_CASE

OURS = Server(SQLITE, "http://127.0.0.1:1/scim/v2/d", pid=1)
THEIRS = Server(PEER, "http://127.0.0.1:2", pid=2)


def _run(server: Server, rate: float) -> Measurement:
    return Measurement("W1", W1_CASE, server.name, requests=int(rate * 10), seconds=10)


def test_the_servers_take_turns_and_each_pair_gives_a_ratio() -> None:
    order: list[tuple[str, int]] = []
    # The machine slows down run after run: what a pair compares, it compares at one speed.
    speeds = iter([1.0, 0.9, 0.8, 0.7, 0.6, 0.5])

    def measure(server: Server, turn: int) -> Measurement:
        order.append((server.name, turn))
        speed = next(speeds)
        return _run(server, (300 if server is OURS else 200) * speed)

    taken = in_turns(OURS, THEIRS, measure, pairs=3)

    assert order == [(SQLITE, 0), (PEER, 1), (PEER, 2), (SQLITE, 3), (SQLITE, 4), (PEER, 5)]
    assert [m.server for m in taken.ours] == [SQLITE] * 3
    # 300 against 180, 160 against 210, 180 against 100 requests a second.
    assert [round(r, 3) for r in taken.ratios()] == [1.667, 1.312, 1.8]
    assert taken.median() == taken.ratios()[0]


def test_a_pair_with_a_failed_run_gives_no_ratio() -> None:
    failed = Measurement("W1", W1_CASE, SQLITE, 0, 10, notes={"failed": True})
    runs = iter([_run(OURS, 300), _run(THEIRS, 100), _run(THEIRS, 100), failed])

    taken = in_turns(OURS, THEIRS, lambda server, turn: next(runs), pairs=2)

    assert taken.ratios() == [3.0]
    assert taken.median() == 3.0


def test_the_target_reads_the_median_of_the_turns_before_the_two_table_runs() -> None:
    table = [_run(OURS, 300), _run(THEIRS, 300)]
    rates = {SQLITE: 500, PEER: 200}
    turns = in_turns(OURS, THEIRS, lambda server, _: _run(server, rates[server.name]), 3)
    sizes = Sizes(10_000, 1_000_000, (0,))

    with_turns = Report(table, sizes, extras={"turns": [turns.as_json()]}).targets()
    without = Report(table, sizes).targets()

    assert with_turns[0].name == without[0].name == "W1 creates/s vs scim2-server"
    assert with_turns[0].met is True
    assert with_turns[0].measured == "2.50x (median of 3 pairs in turns, 2.50x-2.50x)"
    assert without[0].met is False
    assert without[0].measured == "1.00x"
