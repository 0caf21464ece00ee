"""The benchmark's W5, W6 and W7 at tiny sizes: they run, and they count what they claim."""

import sys
from pathlib import Path

import pytest

# The benchmark's modules are scripts, not a package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from sync_workloads import (
    w5_initial_sync,
    w6_fairness,
    w7_webhooks,
)

LABEL = "scimgate (sqlite)"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'bench.db'}"


def test_w5_times_the_simulator_and_checks_what_the_directory_holds(database_url: str) -> None:
    runs = (("entra", 1), ("entra", 8))
    one, eight = w5_initial_sync(database_url, LABEL, users=40, groups=4, runs=runs)
    assert [one.notes["concurrency"], eight.notes["concurrency"]] == [1, 8]
    for measured in (one, eight):
        assert (measured.workload, measured.server) == ("W5", LABEL)
        # Entra's lifecycle deletes every other leaver: persons 2 and 22 of 40.
        assert measured.notes["held"] == {"users": 38, "groups": 4, "memberships": 72}
        assert measured.notes["simulator_failures"] == 0
        assert measured.requests > 2 * 40  # a lookup and a create per user, and more
        assert 0 < measured.notes["initial_sync_seconds"] < measured.seconds
        assert measured.notes["server_cpu_s"] > 0
        assert measured.peak_rss_mib and measured.peak_rss_mib > 0


def test_w6_answers_every_directory_as_expected(database_url: str) -> None:
    [measured] = w6_fairness(database_url, LABEL, directories=3, seconds=2)
    statuses = measured.notes["statuses"]
    assert set(statuses) == {"lookup 200", "create 201"}
    assert sum(statuses.values()) == measured.requests
    # Each connection alternates: at most one lookup is left without its create.
    assert 0 <= statuses["lookup 200"] - statuses["create 201"] <= 3
    assert measured.notes["requests_per_directory"]["fewest"] > 0
    assert measured.notes["spread_worst_over_median_p99"] >= 1


def test_w7_delivers_every_event_exactly_once(database_url: str) -> None:
    [measured] = w7_webhooks(database_url, LABEL, events=25)
    notes = measured.notes
    # Each user.created, and the directory.activated of its first request.
    assert notes["events_in_outbox"] == measured.requests == 26
    assert notes["received_unique"] == notes["attempts"] == 26
    assert notes["duplicates"] == notes["invalid_signatures"] == 0


def test_the_google_pull_bench_times_three_syncs_of_what_it_generated() -> None:
    from google_pull import measure

    rows = measure("sqlite", 150)
    assert [row["step"] for row in rows] == ["first sync", "nothing changed", "1% left"]
    first, unchanged, left = rows
    assert first["sync_users_created"] == 150 and first["sync_groups_created"] == 3
    assert unchanged["sync_users_created"] == unchanged["sync_users_updated"] == 0
    assert (left["sync_users_deactivated"], left["sync_users_deleted"]) == (2, 1)
