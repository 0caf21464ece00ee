"""Prometheus metrics of one application: SCIM traffic as it passes, the rest read at scrape.

Counts of traffic live in the process; under ``serve --workers N`` they live in
files every server process writes (Prometheus's multiprocess mode, switched on
by ``PROMETHEUS_MULTIPROC_DIR``), so a scrape that reaches any one process
reports the traffic of all. What several processes share (the event stream,
the webhook outbox, held events) is read from the database whenever Prometheus
scrapes, so every server answers the same and none must be the one that saw a
change happen.
"""

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import Engine

from scimgate.config import MetricsSettings
from scimgate.service.event_stream.delivery import FANOUT_POSITION
from scimgate.store import events, health, progress
from scimgate.store.transactions import reading

UNKNOWN = "unknown"
"""The directory and IdP labels of a request to a directory that does not exist."""

TOO_MANY_REQUESTS = 429


class Metrics:
    """The metrics registry of one application, so that several apps in a process do not clash."""

    def __init__(self, engine: Engine, settings: MetricsSettings) -> None:
        self.registry = CollectorRegistry()
        self.shared_directory = settings.multiprocess_directory
        """Where every server process of one ``serve`` keeps its counters; None: this one alone."""
        directory_labels = self.directory_labels = settings.directory_labels
        """Whether SCIM requests are counted per directory id; off, a scrape names no directory."""

        labels = ["idp", "method", "status"]
        self.scim_requests = Counter(
            "scimgate_scim_requests",
            "SCIM requests answered, by IdP profile, method and status"
            + (" and directory." if directory_labels else "."),
            ["directory", *labels] if directory_labels else labels,
            registry=self.registry,
        )
        self.scim_duration = Histogram(
            "scimgate_scim_request_duration_seconds",
            "Time to answer a SCIM request, by method.",
            ["method"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "scimgate_rate_limited",
            "Requests refused because a rate limit was exceeded.",
            registry=self.registry,
        )
        self._series: dict[tuple[str | None, str | None, str, int], tuple[Counter, Histogram]] = {}
        """The series of each label set seen, so that a request does not look its labels up."""
        self.gauges = _StreamGauges(engine)
        self.registry.register(self.gauges)

    def observe_scim(
        self, directory_id: str | None, idp: str | None, method: str, status: int, seconds: float
    ) -> None:
        """Count one answered SCIM request; None labels a directory that does not exist."""
        key = (directory_id if self.directory_labels else None, idp, method, status)
        series = self._series.get(key)
        if series is None:
            labels = {"idp": idp or UNKNOWN, "method": method, "status": str(status)}
            if self.directory_labels:
                labels["directory"] = directory_id or UNKNOWN
            series = self._series[key] = (
                self.scim_requests.labels(**labels),
                self.scim_duration.labels(method=method),
            )
        counted, timed = series
        counted.inc()
        timed.observe(seconds)
        if status == TOO_MANY_REQUESTS:
            self.rate_limited.inc()

    def exposition(self) -> bytes:
        """Every metric in the Prometheus text format (this reads the database)."""
        shared = self.shared_directory
        if shared is None:
            return generate_latest(self.registry)
        every_process = CollectorRegistry()
        MultiProcessCollector(every_process, path=shared)  # type: ignore[no-untyped-call]
        every_process.register(self.gauges)
        return generate_latest(every_process)


class _StreamGauges:
    """Gauges of the event stream and the webhook outbox, read from the database at scrape.

    Having no ``describe``, it is not queried when registered, only when scraped.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with reading(self.engine) as conn:
            newest = events.last_seq(conn)
            fanned_out = progress.position(conn, FANOUT_POSITION)
            backlog = health.webhook_backlog(conn)
            held = health.held_count(conn)
        yield GaugeMetricFamily(
            "scimgate_events_newest_sequence",
            "Sequence number of the newest published event.",
            value=newest,
        )
        yield GaugeMetricFamily(
            "scimgate_webhook_fanout_lag_events",
            "Published events not yet queued for webhook endpoints.",
            value=max(newest - fanned_out, 0),
        )
        yield GaugeMetricFamily(
            "scimgate_webhook_backlog",
            "Webhook deliveries pending (not yet answered 2xx).",
            value=backlog.pending,
        )
        yield GaugeMetricFamily(
            "scimgate_webhook_failing",
            "Pending webhook deliveries that have failed at least once.",
            value=backlog.failing,
        )
        yield GaugeMetricFamily(
            "scimgate_events_held",
            "Events held back by the safety valve or a dry run.",
            value=held,
        )
