"""The benchmark suite runs end to end at its smallest sizes and reports every row it should.

Runs ``bench/run.py --quick --skip-peer --backend sqlite`` into a temporary
results folder. Needs wrk (Debian's ``wrk`` package); skipped without it.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
SERVERS = ("scimgate (sqlite)", "ceiling")
EXPECTED_ROWS = {
    ("W1", "POST /Users, unique userNames"),
    ("W2", 'filter userName eq "…", 1,000 users'),
    ("W2", 'filter userName eq "…", 5,000 users'),
    ("W3", "page of 100: first pages of a walk, 1,000 users"),
    ("W3", "page of 100: last pages of a walk, 5,000 users"),
    ("W3", "page of 100: cold jump near the end (not walked), 5,000 users"),
    ("W3", "whole sweep by pages of 100 (pages/s), 1,000 users"),
    ("W4", "add 1 member (Entra), group of 1,000"),
    ("W4", "remove 1 member (Okta), group of 0"),
    ("W4", "GET group, excludedAttributes=members, group of 100"),
}

PROFILE_UPDATES = "PUT /Users/{id}, Okta's profile update, 1,000 users"

RUN_LIMIT_S = 420
"""About 30 s on a quiet machine; a list run that hangs is itself stopped within a minute."""

pytestmark = pytest.mark.skipif(
    shutil.which("wrk") is None, reason="the benchmark needs wrk: apt-get install wrk"
)


def _quick_run(results: Path) -> str:
    """``bench/run.py --quick`` into ``results``; what it printed."""
    command = [sys.executable, str(BENCH / "run.py"), "--quick", "--skip-peer"]
    command += ["--backend", "sqlite", "--only", "W1,W2,W3,W4", "--results", str(results)]
    # A session of its own, so that a run cut short takes its servers and wrk with it.
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    ) as run:
        try:
            printed, _ = run.communicate(timeout=RUN_LIMIT_S)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            printed, _ = run.communicate()
            pytest.fail(f"the quick run took over {RUN_LIMIT_S} s; it printed:\n{printed[-4000:]}")
    assert run.returncode == 0, printed[-6000:]
    return printed


def test_the_quick_run_measures_every_row_and_shows_the_table_and_the_targets(
    tmp_path: Path,
) -> None:
    """One test for one run (tests of their own could run it twice, on two workers at once)."""
    printed = _quick_run(tmp_path)
    latest = json.loads((tmp_path / "latest.json").read_text())
    markdown = (tmp_path / "latest.md").read_text()

    # Every row is measured on scimgate and on the ceiling.
    measured = {(m["workload"], m["case"], m["server"]) for m in latest["measurements"]}
    for workload, case in EXPECTED_ROWS:
        for server in SERVERS:
            assert (workload, case, server) in measured
    # The ceiling answers no PUT of a user it read: this row is scimgate's (and the peer's).
    assert ("W2", PROFILE_UPDATES, "scimgate (sqlite)") in measured

    # No run failed, and every run was answered.
    timed = [m for m in latest["measurements"] if m["workload"] != "RSS"]
    assert [m for m in timed if m["notes"].get("failed")] == []
    assert all(m["throughput"] > 0 and m["p50_ms"] > 0 for m in timed)
    assert any(m["workload"] == "RSS" and m["peak_rss_mib"] > 0 for m in latest["measurements"])

    # The printed table and the Markdown show the rows and the targets, and name the
    # interpreter that served them.
    assert latest["interpreter"] == " ".join(sys.version.split())
    for text in (printed, markdown):
        assert "sqlite vs ceiling" in text
        assert f"Served by Python {latest['interpreter']}." in text
        assert "W4 p50, every case and group size up to 1,000" in text
    for _, case in EXPECTED_ROWS:
        assert f"| {case} |" in markdown

    # A target is never met at a smaller size than it names.
    verdicts = {t["name"]: t["verdict"] for t in latest["targets"]}
    assert verdicts["W4 p50, every case and group size up to 1,000"].startswith(
        "not measured at target size"
    )
    assert verdicts["W2 lookups/s at 5,000 over at 1,000 users"].startswith(
        ("not measured at target size", "not measured")
    )
    ours = {m["case"]: m for m in latest["measurements"] if m["server"] == "scimgate (sqlite)"}
    assert ours["POST /Users, unique userNames"]["notes"]["cpu_us_per_request"] > 0
    encrypted = ours["POST /Users, unique userNames, encryption at rest on"]
    assert encrypted["throughput"] > 0 and encrypted["notes"]["cpu_us_per_request"] > 0
    # Lookups note their CPU too, and the servers' CPU per request is shown beside the table.
    assert ours['filter userName eq "…", 1,000 users']["notes"]["cpu_us_per_request"] > 0
    assert "Server CPU per request" in markdown
    assert '| W2 | filter userName eq "…", 1,000 users |' in markdown.split("Server CPU")[1]

    # Beside the table: the CPU of each stage of a create and a lookup, and the W1 profile.
    create, lookup = latest["breakdown"]
    for request in (create, lookup):
        assert all(stage["us"] and stage["us"] > 0 for stage in request["stages"]), request
        # Measured apart, on a machine the suite keeps busy, either can come out the larger:
        # the bench reports the difference; a test does not judge timings.
        assert request["whole_request_us"] > 0 and request["sum_of_stages_us"] > 0
    assert create["whole_request_in_flight_us"] > 0
    # W5's Entra requests, each kind whole: four kinds, each measured.
    assert len(latest["sync_requests"]) == 4
    assert all(each["us"] and each["us"] > 0 for each in latest["sync_requests"]), latest
    for text in (printed, markdown):
        assert "edge overhead (whole - sum of stages)" in text
        assert "whole request, 8 in flight" in text
        assert "CPU per request of W5's Entra sync" in text
        assert "W1 profile:" in text
    profile = latest["profile"]
    assert profile["samples"] > 0, profile
    assert "sqlalchemy" in profile["self_share"]
    # Read with the server paused, stacks are whole (read while it ran, two in five were not).
    assert profile["cut_samples"] <= profile["samples"] // 20, profile
    assert (tmp_path / "w1-profile.collapsed.txt").stat().st_size > 0
    speedscope = json.loads((tmp_path / "w1-profile.speedscope.json").read_text())
    assert sum(speedscope["profiles"][0]["weights"]) > 0
