"""One row of the benchmark's table: a workload's case, measured on one server."""

import math
from dataclasses import asdict, dataclass, field
from typing import Any


def percentile(values: list[int], share: float) -> int:
    """The nearest-rank percentile: the smallest of ``values`` that at least ``share`` of them
    do not exceed (0 when there are none)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else 0


@dataclass(frozen=True)
class Measurement:
    workload: str
    """``W1`` … ``W7``."""

    case: str
    """What exactly ran, e.g. ``lookup at 1,000,000 users`` or ``add member, group of 10,000``."""

    server: str
    """``Server.name`` of what answered."""

    requests: int
    seconds: float
    """Wall time of the measured part (seeding excluded)."""

    p50_ms: float | None = None
    p99_ms: float | None = None
    peak_rss_mib: float | None = None
    notes: dict[str, Any] = field(default_factory=dict)
    """Anything else worth keeping (errors seen, statuses, sizes)."""

    @property
    def throughput(self) -> float:
        """Requests (or deliveries, or users synced) per second."""
        return self.requests / self.seconds if self.seconds else 0.0

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "throughput": self.throughput}
