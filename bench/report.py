"""The suite's table: rows of measurements side by side, ratios, targets, and the last run.

One row per workload case; per server its throughput, p50/p99 and peak RSS;
then scimgate (SQLite) against the peer and against the ceiling. Throughput
cases (concurrency 8) compare throughputs ("thr 2.10x": scimgate serves 2.1
times as many requests per second); one-at-a-time cases compare the p50
("p50 0.40x": scimgate's median request takes 0.4 times as long). Results are
written to ``latest.json`` and ``latest.md`` (plain GitHub Markdown); the
previous ``latest.json``, when there is one, gives the change per row.
"""

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from breakdown import lines as breakdown_lines
from breakdown import sync_lines
from measurements import Measurement
from rich.console import Console
from rich.table import Table
from turns import lines as turns_lines
from w1_profile import lines as profile_lines
from workloads import (
    LATENCY_KIND,
    THROUGHPUT_KIND,
    W1_CASE,
    first_pages_case,
    last_pages_case,
    lookup_case,
)

SQLITE = "scimgate (sqlite)"
POSTGRESQL = "scimgate (postgresql)"
PEER = "scim2-server"
CEILING = "ceiling"
SERVERS = (SQLITE, POSTGRESQL, PEER, CEILING)
RSS_WORKLOAD = "RSS"
MISSING = "-"


@dataclass(frozen=True)
class Row:
    """One workload case, measured on several servers."""

    workload: str
    case: str
    cells: dict[str, Measurement]


@dataclass(frozen=True)
class Sizes:
    """The sizes this run used, which the targets are read at."""

    small_users: int
    big_users: int
    group_sizes: tuple[int, ...]


@dataclass(frozen=True)
class TargetResult:
    name: str
    target: str
    measured: str
    met: bool | None
    """None when the run did not measure what the target needs."""

    margin: str = ""
    short_of: str = ""
    """What the run measured instead, when it was smaller than the target names."""

    def verdict(self) -> str:
        if self.short_of:
            return f"not measured at target size ({self.short_of})"
        if self.met is None:
            return "not measured"
        return "met" if self.met else f"missed by {self.margin}"


@dataclass
class Report:
    measurements: list[Measurement]
    sizes: Sizes
    notes: list[str] = field(default_factory=list)
    """What the run skipped or changed, and why."""

    extras: dict[str, Any] = field(default_factory=dict)
    """Beside the table: ``breakdown`` (CPU per request stage) and ``profile`` (W1's layers)."""

    generated_at: str = field(
        default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds")
    )

    interpreter: str = field(default_factory=lambda: " ".join(sys.version.split()))
    """The CPython every server of the run was served by: its release and its build, which
    move a request's CPU as much as a change to the request path does."""

    def servers(self) -> list[str]:
        present = {m.server for m in self.measurements}
        return [name for name in SERVERS if name in present] + sorted(present - set(SERVERS))

    def rows(self) -> list[Row]:
        rows: dict[tuple[str, str], Row] = {}
        for m in self.measurements:
            rows.setdefault((m.workload, m.case), Row(m.workload, m.case, {})).cells[m.server] = m
        return list(rows.values())

    def targets(self) -> list[TargetResult]:
        return evaluate_targets(self)

    def as_json(self) -> dict[str, Any]:
        return {
            "generated_at": self.generated_at,
            "interpreter": self.interpreter,
            "sizes": vars(self.sizes),
            "servers": self.servers(),
            "notes": self.notes,
            "measurements": [m.as_json() for m in self.measurements],
            "targets": [vars(t) | {"verdict": t.verdict()} for t in self.targets()],
            **self.extras,
        }


# Reading measurements


def usable(m: Measurement | None) -> Measurement | None:
    """The measurement, unless it is missing or failed."""
    return None if m is None or m.notes.get("failed") else m


def find(report: Report, workload: str, case: str, server: str = SQLITE) -> Measurement | None:
    for m in report.measurements:
        if (m.workload, m.case, m.server) == (workload, case, server):
            return usable(m)
    return None


def ratio(row: Row, other: str) -> str:
    """scimgate (SQLite) against another server on one row, labelled with what is compared."""
    ours, theirs = usable(row.cells.get(SQLITE)), usable(row.cells.get(other))
    if ours is None or theirs is None:
        return MISSING
    kind = ours.notes.get("kind")
    if kind == THROUGHPUT_KIND and theirs.throughput:
        return f"thr {times(ours.throughput / theirs.throughput)}"
    if kind == LATENCY_KIND and ours.p50_ms is not None and theirs.p50_ms:
        return f"p50 {times(ours.p50_ms / theirs.p50_ms)}"
    return MISSING


# Formatting


def times(value: float) -> str:
    """A ratio, with enough digits to tell small ones apart."""
    return f"{value:.2f}x" if value >= 0.1 else f"{value:.3f}x"


def per_second(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def millis(value: float | None) -> str:
    return MISSING if value is None else f"{value:.2f}"


def mib(value: float | None) -> str:
    return MISSING if value is None else f"{value:.0f}"


def failed_text(m: Measurement) -> str:
    return f"FAILED: {m.notes.get('failure', 'errors')}"


def cell_columns(m: Measurement | None) -> list[str]:
    """Throughput, p50, p99 and peak RSS of one server on one row."""
    if m is None:
        return [MISSING] * 4
    if m.notes.get("failed"):
        return [failed_text(m), MISSING, MISSING, mib(m.peak_rss_mib)]
    throughput = per_second(m.throughput) if m.requests else MISSING
    return [throughput, millis(m.p50_ms), millis(m.p99_ms), mib(m.peak_rss_mib)]


def console_cell(m: Measurement | None) -> str:
    if m is None:
        return MISSING
    if m.notes.get("failed"):
        return f"[red]{failed_text(m)}[/red]"
    lines = [f"{per_second(m.throughput)}/s"] if m.requests else []
    if m.p50_ms is not None:
        lines.append(f"{millis(m.p50_ms)} / {millis(m.p99_ms)} ms")
    lines.append(f"{mib(m.peak_rss_mib)} MiB")
    return "\n".join(lines)


def markdown(report: Report, previous: dict[str, Any] | None) -> str:
    servers = report.servers()
    header = ["workload", "case"]
    for server in servers:
        header += [f"{server} req/s", "p50 ms", "p99 ms", "RSS MiB"]
    header += ["sqlite vs peer", "sqlite vs ceiling"]
    lines = [f"Served by Python {report.interpreter}.", ""]
    lines += [_md_line(header), _md_line(["---", "---"] + ["---:"] * (len(header) - 2))]
    for row in report.rows():
        cells = [row.workload, row.case]
        for server in servers:
            cells += cell_columns(row.cells.get(server))
        cells += [ratio(row, PEER), ratio(row, CEILING)]
        lines.append(_md_line(cells))
    lines += ["", "Targets (SQLite, one server process):", ""]
    lines += [_md_line(["target", "wanted", "measured", "verdict"]), _md_line(["---"] * 4)]
    lines += [_md_line([t.name, t.target, t.measured, t.verdict()]) for t in report.targets()]
    lines += beside_the_table(report)
    changes = compare(report, previous)
    if changes:
        lines += ["", f"Change since the previous run ({previous_time(previous)}):", ""]
        lines += [_md_line(["workload", "case", "server", "req/s", "p50"]), _md_line(["---"] * 5)]
        lines += [_md_line(change) for change in changes]
    if report.notes:
        lines += ["", "Notes:", ""] + [f"- {' '.join(note.split())}" for note in report.notes]
    return "\n".join(lines) + "\n"


def beside_the_table(report: Report) -> list[str]:
    """The servers' CPU per request, the CPU of a create and of a lookup stage by stage, of
    each kind of W5's Entra requests, and the W1 profile's layers."""
    lines = cpu_lines(report)
    if report.extras.get("turns"):
        lines += ["", *turns_lines(report.extras["turns"])]
    if report.extras.get("breakdown"):
        lines += ["", *breakdown_lines(report.extras["breakdown"])]
    if report.extras.get("sync_requests"):
        lines += ["", *sync_lines(report.extras["sync_requests"])]
    if report.extras.get("profile"):
        lines += ["", *profile_lines(report.extras["profile"])]
    return lines


def cpu_lines(report: Report) -> list[str]:
    """The servers' CPU time per request answered, for the cases that measure it, with the
    peer's over scimgate's (the throughput's ratio, when both keep their core busy)."""
    rows = []
    for m in report.measurements:
        ours = m.notes.get("cpu_us_per_request") if m.server == SQLITE else None
        if not ours:
            continue
        theirs = find(report, m.workload, m.case, PEER)
        peer = theirs.notes.get("cpu_us_per_request") if theirs else None
        compared = [f"{peer:,.0f}", times(peer / ours)] if peer else ["-", "-"]
        rows.append(_md_line([m.workload, m.case, f"{ours:,.0f}", *compared]))
    if not rows:
        return []
    header = ["workload", "case", "scimgate (sqlite) µs", "scim2-server µs", "its over ours"]
    return [
        "",
        "Server CPU per request (its process tree's CPU time over the run / requests answered):",
        "",
        _md_line(header),
        _md_line(["---", "---", "---:", "---:", "---:"]),
        *rows,
    ]


def _md_line(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def print_report(report: Report, previous: dict[str, Any] | None, console: Console) -> None:
    servers = report.servers()
    table = Table(title="scimgate benchmark (req/s, p50 / p99, peak RSS)", show_lines=True)
    table.add_column("W")
    table.add_column("case", max_width=38)
    for server in servers:
        table.add_column(server, justify="right")
    table.add_column("sqlite vs peer", justify="right")
    table.add_column("sqlite vs ceiling", justify="right")
    for row in report.rows():
        cells = [console_cell(row.cells.get(server)) for server in servers]
        table.add_row(row.workload, row.case, *cells, ratio(row, PEER), ratio(row, CEILING))
    console.print(table)
    console.print(f"Served by Python {report.interpreter}.", markup=False, highlight=False)
    targets = Table(title="Targets (SQLite, one server process)")
    for column in ("target", "wanted", "measured", "verdict"):
        targets.add_column(column)
    for t in report.targets():
        style = "green" if t.met else "red" if t.met is False else "yellow"
        targets.add_row(t.name, t.target, t.measured, f"[{style}]{t.verdict()}[/{style}]")
    console.print(targets)
    console.print("\n".join(beside_the_table(report)), markup=False, highlight=False)
    changes = compare(report, previous)
    if changes:
        since = Table(title=f"Change since the previous run ({previous_time(previous)})")
        for column in ("W", "case", "server", "req/s", "p50"):
            since.add_column(column)
        for change in changes:
            since.add_row(*change)
        console.print(since)
    for note in report.notes:
        console.print(f"note: {note}")


# Comparison with the previous run


def previous_time(previous: dict[str, Any] | None) -> str:
    return str((previous or {}).get("generated_at", "unknown time"))


def compare(report: Report, previous: dict[str, Any] | None) -> list[list[str]]:
    """Per row and server measured both times: the change of throughput and of p50."""
    if not previous:
        return []
    before = {
        (m["workload"], m["case"], m["server"]): m
        for m in previous.get("measurements", [])
        if not m.get("notes", {}).get("failed")
    }
    changes = []
    for m in report.measurements:
        old = before.get((m.workload, m.case, m.server))
        if old is None or usable(m) is None:
            continue
        throughput = _change(
            old.get("throughput"), m.throughput if m.requests else None, per_second
        )
        p50 = _change(old.get("p50_ms"), m.p50_ms, lambda v: f"{v:.2f} ms")
        changes.append([m.workload, m.case, m.server, throughput, p50])
    return changes


def _change(old: float | None, new: float | None, shown: Callable[[float], str]) -> str:
    if not old or new is None:
        return MISSING
    return f"{shown(old)} -> {shown(new)} ({(new - old) / old:+.0%})"


# Targets
#
# Issue 17's. Each is read at the size it names: a run at smaller sizes (``--quick``) shows
# what it measured and says "not measured at target size" rather than "met".

W1_CPU_US = 350
W2_USERS, W2_BIG_USERS = 10_000, 1_000_000
W4_BIGGEST_GROUP = 100_000
W5_USERS, W5_GROUPS, W5_CONCURRENCY = 10_000, 200, 8
PROFILE_OVERHEAD_SHARE = 0.25


def evaluate_targets(report: Report) -> list[TargetResult]:
    return [
        *_w1_targets(report),
        *_w2_targets(report),
        *_w3_targets(report),
        _w4_target(report),
        *_w5_targets(report),
        _rss_target(report),
        _profile_target(report),
    ]


def _at_least(
    name: str, target: str, value: float | None, wanted: float, unit: str = "x"
) -> TargetResult:
    if value is None:
        return TargetResult(name, target, MISSING, None)
    margin = f"{(wanted - value) / wanted:.0%}"
    return TargetResult(name, target, f"{value:.2f}{unit}", value >= wanted, margin)


def _at_most(
    name: str,
    target: str,
    value: float | None,
    wanted: float,
    unit: str,
    *,
    inclusive: bool = False,
) -> TargetResult:
    if value is None:
        return TargetResult(name, target, MISSING, None)
    margin = f"{value - wanted:.2f}{unit} ({(value - wanted) / wanted:.0%})"
    met = value <= wanted if inclusive else value < wanted
    return TargetResult(name, target, f"{value:.2f}{unit}", met, margin)


def _sized(result: TargetResult, smaller: str | None) -> TargetResult:
    """The result, unless the run measured it at a smaller size than the target names."""
    if smaller is None or result.met is None:
        return result
    return replace(result, met=None, short_of=smaller)


def _short(measured: int, wanted: int, what: str) -> str | None:
    return None if measured >= wanted else f"{measured:,} {what}, not {wanted:,}"


def _throughput_ratio(report: Report, workload: str, case: str) -> float | None:
    ours, theirs = find(report, workload, case), find(report, workload, case, PEER)
    if ours is None or theirs is None or not theirs.throughput:
        return None
    return ours.throughput / theirs.throughput


def _versus_peer(
    name: str, target: str, report: Report, workload: str, case: str | None, wanted: float
) -> TargetResult | None:
    """scimgate against the peer as the pairs run in turns measured it (``bench/turns.py``):
    the median of the pairs' ratios; None when the run took no such pairs of the case (of any
    case of the workload, for ``case=None``)."""
    for taken in report.extras.get("turns", []):
        ratios = taken["ratios"]
        if taken["workload"] == workload and case in (None, taken["case"]) and ratios:
            found = _at_least(name, target, taken["median_ratio"], wanted)
            spread = f"{min(ratios):.2f}x-{max(ratios):.2f}x"
            pairs = f"{len(ratios)} pairs" if len(ratios) > 1 else "1 pair"
            how = f"median of {pairs} in turns, {spread}"
            return replace(found, measured=f"{found.measured} ({how})")
    return None


def _throughput_versus_peer(
    name: str, target: str, report: Report, workload: str, case: str, wanted: float
) -> TargetResult:
    """scimgate's throughput over the peer's: from the pairs run in turns when the run took
    them, else the ratio of the table's two runs."""
    return _versus_peer(name, target, report, workload, case, wanted) or _at_least(
        name, target, _throughput_ratio(report, workload, case), wanted
    )


def _w1_targets(report: Report) -> list[TargetResult]:
    created, theirs = find(report, "W1", W1_CASE), find(report, "W1", W1_CASE, PEER)
    cpu = created.notes.get("cpu_us_per_request") if created else None
    by_cpu = _at_most(
        "W1 server CPU per create (process CPU time / creates)",
        f"<= {W1_CPU_US} µs",
        cpu,
        W1_CPU_US,
        " µs",
        inclusive=True,
    )
    if theirs and theirs.notes.get("cpu_us_per_request") and by_cpu.met is not None:
        peer_cpu = theirs.notes["cpu_us_per_request"]
        by_cpu = replace(by_cpu, measured=f"{by_cpu.measured} (scim2-server {peer_cpu:.0f} µs)")
    return [
        _throughput_versus_peer("W1 creates/s vs scim2-server", ">= 2x", report, "W1", W1_CASE, 2),
        _at_most("W1 p99", "< 20 ms", created.p99_ms if created else None, 20, " ms"),
        by_cpu,
    ]


def _w2_targets(report: Report) -> list[TargetResult]:
    small, big = report.sizes.small_users, report.sizes.big_users
    name = f"W2 lookups/s vs scim2-server ({small:,} users)"
    versus_peer = _throughput_versus_peer(name, ">= 3x", report, "W2", lookup_case(small), 3)
    at_small, at_big = find(report, "W2", lookup_case(small)), find(report, "W2", lookup_case(big))
    flatness = at_big.throughput / at_small.throughput if at_small and at_big else None
    return [
        _sized(
            versus_peer,
            _short(small, W2_USERS, "users"),
        ),
        _sized(
            _at_least(
                f"W2 lookups/s at {big:,} over at {small:,} users",
                ">= 0.80 (within 20%)",
                flatness,
                0.8,
            ),
            _short(big, W2_BIG_USERS, "users") or _short(small, W2_USERS, "users"),
        ),
    ]


def _w3_targets(report: Report) -> list[TargetResult]:
    """Kept from the suite's earlier targets: pages must not slow down along a walk."""
    results = []
    worst: float | None = None
    for users in (report.sizes.small_users, report.sizes.big_users):
        first, last = (
            find(report, "W3", first_pages_case(users)),
            find(report, "W3", last_pages_case(users)),
        )
        p50s = [m.p50_ms for m in (first, last) if m and m.p50_ms is not None]
        if p50s:
            worst = max([*p50s, worst or 0])
        growth = (
            last.p50_ms / first.p50_ms if first and last and first.p50_ms and last.p50_ms else None
        )
        results.append(
            _at_most(
                f"W3 last page of a walk over first, {users:,} users", "<= 1.20", growth, 1.2, ""
            )
        )
    results.insert(
        0, _at_most("W3 p50 per page (worst of first and walked last)", "< 10 ms", worst, 10, " ms")
    )
    return results


def _w4_target(report: Report) -> TargetResult:
    p50s = [
        m.p50_ms
        for m in report.measurements
        if m.workload == "W4" and m.server == SQLITE and usable(m) and m.p50_ms is not None
    ]
    failed = any(
        m.workload == "W4" and m.server == SQLITE and not usable(m) for m in report.measurements
    )
    biggest = max(report.sizes.group_sizes, default=0)
    name = f"W4 p50, every case and group size up to {biggest:,}"
    if failed or not p50s:
        return TargetResult(
            name, "< 3 ms", "failed runs" if failed else MISSING, False if failed else None
        )
    return _sized(
        _at_most(name, "< 3 ms", max(p50s), 3, " ms"),
        _short(biggest, W4_BIGGEST_GROUP, "members at most"),
    )


def _rss_target(report: Report) -> TargetResult:
    stored = [m for m in report.measurements if m.workload == RSS_WORKLOAD and m.server == SQLITE]
    value = stored[0].peak_rss_mib if stored else None
    name = f"Peak RSS, {report.sizes.big_users:,} users stored"
    return _sized(
        _at_most(name, "< 150 MiB", value, 150, " MiB"),
        _short(report.sizes.big_users, W2_BIG_USERS, "users"),
    )


def _w5_targets(report: Report) -> list[TargetResult]:
    """Entra's initial sync at 8 in flight: its wall time; and the peer's time over ours on the
    same work, in the RFC dialect (the peer refuses Entra's forms)."""
    entra = _initial_sync(report, SQLITE, "entra")
    ours, theirs = _initial_sync(report, SQLITE, "generic"), _initial_sync(report, PEER, "generic")
    seconds = entra.notes["initial_sync_seconds"] if entra else None
    rfc = (
        f"W5 initial sync, RFC dialect, {W5_CONCURRENCY} in flight: "
        "scim2-server's time over scimgate's"
    )
    speedup = (
        theirs.notes["initial_sync_seconds"] / ours.notes["initial_sync_seconds"]
        if ours and theirs and ours.notes["initial_sync_seconds"]
        else None
    )
    return [
        _sized(
            _at_most(
                f"W5 Entra initial sync wall time, {W5_CONCURRENCY} in flight",
                "< 20 s",
                seconds,
                20,
                " s",
            ),
            _w5_short(entra),
        ),
        _sized(
            _versus_peer(rfc, ">= 2x", report, "W5", None, 2)
            or _at_least(rfc, ">= 2x", speedup, 2),
            _w5_short(ours),
        ),
    ]


def _w5_short(m: Measurement | None) -> str | None:
    if m is None:
        return None
    users, groups = m.notes["users"], m.notes["groups"]
    return _short(users, W5_USERS, "users") or _short(groups, W5_GROUPS, "groups")


def _initial_sync(report: Report, server: str, idp: str) -> Measurement | None:
    for m in report.measurements:
        if (
            m.workload == "W5"
            and m.server == server
            and usable(m)
            and m.notes.get("idp") == idp
            and m.notes.get("concurrency") == W5_CONCURRENCY
            and m.notes.get("initial_sync_seconds")
        ):
            return m
    return None


def _profile_target(report: Report) -> TargetResult:
    """Acceptance 3, read off the W1 profile: the largest layer doing none of the real work."""
    profile = report.extras.get("profile") or {}
    name = "W1 profile: largest layer that does not validate, write or answer"
    overhead = [
        (share, layer)
        for layer, share in profile.get("self_share", {}).items()
        if layer in profile.get("overhead_layers", ())
    ]
    if not overhead:
        return TargetResult(name, "<= 25% of samples", MISSING, None)
    share, layer = max(overhead)
    shown = f"{layer} {share:.0%}"
    met = share <= PROFILE_OVERHEAD_SHARE
    return TargetResult(
        name, "<= 25% of samples", shown, met, f"{share - PROFILE_OVERHEAD_SHARE:.0%}"
    )


# Writing


def write(report: Report, folder: Path, console: Console) -> None:
    """Print the report and write it to ``folder``, comparing with the previous run there."""
    folder.mkdir(parents=True, exist_ok=True)
    latest = folder / "latest.json"
    previous = json.loads(latest.read_text()) if latest.exists() else None
    print_report(report, previous, console)
    latest.write_text(json.dumps(report.as_json(), indent=2) + "\n")
    (folder / "latest.md").write_text(markdown(report, previous))
