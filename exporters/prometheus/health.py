"""pubnet's own health, as a prometheus-client custom collector.

These few families are rendered with prometheus-client itself (its collector API and its
exposition code) and appended after the fleet's families. Sources:

- ``pubnet_poll_duration_seconds`` (histogram): every ``pubnet_device_poll_duration_seconds``
  observation a collector publishes is one poll; the exporter subscribes to that metric and
  counts each value into buckets, labelled by collector (``source``).
- ``pubnet_state_dropped_total`` / ``pubnet_state_pending``: state-store subscriber queues.
- ``pubnet_exporter_scrape_duration_seconds``, ``pubnet_exporter_series``,
  ``pubnet_exporter_dropped_series_total``: this exporter; ``pubnet_exporter_connections*``,
  ``pubnet_exporter_accept_errors_total``, ``pubnet_exporter_auth_*``: its HTTP listener.

Polls in flight and the poll lag (how late the head of its schedule is) are the SNMP
poller's to report (it alone knows); it stores them under device ``pubnet`` and they come
out with the fleet's series. An instance that polls nothing (``--role alerting``) has no
poll lag.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from exporters.prometheus.families import asked_for
from pubnet import catalog
from pubnet.catalog import (
    DEVICE_POLL_DURATION,
    EXPORTER_ACCEPT_ERRORS,
    EXPORTER_AUTH_CHECKS,
    EXPORTER_AUTH_FAILURES,
    EXPORTER_CONNECTIONS,
    EXPORTER_CONNECTIONS_CLOSED,
    EXPORTER_CONNECTIONS_LIMIT,
    EXPORTER_DROPPED_SERIES,
    EXPORTER_SCRAPE_DURATION,
    EXPORTER_SCRAPES,
    EXPORTER_SERIES,
    LABEL_ERROR,
    LABEL_REASON,
    LABEL_SOURCE,
    LABEL_SUBSCRIBER,
    POLL_DURATION,
    STATE_DROPPED,
    STATE_PENDING,
)
from pubnet.httpstats import AuthStats, ListenerStats
from pubnet.model import Batch
from pubnet.state import StateStore

POLL_DURATION_SOURCE = DEVICE_POLL_DURATION
"""The per-device gauge collectors publish after each poll; one observation = one poll."""

BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                              30.0)


@dataclass(slots=True)
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total: float = 0.0
    n: int = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS, value)] += 1
        self.total += value
        self.n += 1

    def cumulative(self) -> list[tuple[str, float]]:
        out = []
        running = 0
        for bound, count in zip((*BUCKETS, float("inf")), self.counts, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else repr(bound), float(running)))
        return out


@dataclass(slots=True)
class ScrapeStats:
    duration: float = 0.0
    series: int = 0
    scrapes: int = 0


class HealthCollector(Collector):
    """Reads in-memory counters only; never does I/O in :meth:`collect`."""

    def __init__(
        self,
        store: StateStore,
        dropped_series: Callable[[], dict[str, int]],
    ) -> None:
        self._store = store
        self._dropped_series = dropped_series
        self._poll_durations: dict[str, _Histogram] = {}
        self.scrape = ScrapeStats()
        self.exclude: frozenset[str] = frozenset()
        """Family names the fleet already exports (a collector may publish one); skipped."""
        self.only: frozenset[str] | None = None
        """Sample names a restricted scrape asked for: only the families carrying one are
        collected (see :func:`~exporters.prometheus.families.asked_for`)."""
        self.listener: ListenerStats | None = None
        self.auth: AuthStats | None = None

    def observe_batch(self, batch: Batch) -> None:
        for obs in batch.observations:
            if obs.metric == POLL_DURATION_SOURCE:
                hist = self._poll_durations.get(obs.source.value)
                if hist is None:
                    hist = self._poll_durations[obs.source.value] = _Histogram()
                hist.observe(obs.value)

    def collect(self) -> Iterator[Metric]:
        only = self.only
        for family in self._families():
            if family.name in self.exclude or f"{family.name}_total" in self.exclude:
                continue
            if only is None or asked_for(family.name, only):
                yield family

    def _families(self) -> Iterator[Metric]:
        hist = HistogramMetricFamily(POLL_DURATION, _help(POLL_DURATION),
                                     labels=[LABEL_SOURCE])
        for source, h in sorted(self._poll_durations.items()):
            hist.add_metric([source], h.cumulative(), h.total)
        yield hist
        dropped = _counter(STATE_DROPPED, labels=[LABEL_SUBSCRIBER])
        pending = _gauge(STATE_PENDING, labels=[LABEL_SUBSCRIBER])
        for stats in self._store.subscriber_stats():
            dropped.add_metric([stats.name], float(stats.dropped))
            pending.add_metric([stats.name], float(stats.pending))
        yield dropped
        yield pending
        yield _gauge(EXPORTER_SCRAPE_DURATION, self.scrape.duration)
        yield _gauge(EXPORTER_SERIES, float(self.scrape.series))
        yield _counter(EXPORTER_SCRAPES, float(self.scrape.scrapes))
        bad = _counter(EXPORTER_DROPPED_SERIES, labels=[LABEL_REASON])
        for reason, count in sorted(self._dropped_series().items()):
            bad.add_metric([reason], float(count))
        yield bad
        yield from self._http_families()

    def _http_families(self) -> Iterator[Metric]:
        listener = self.listener
        if listener is not None:
            yield _gauge(EXPORTER_CONNECTIONS, float(listener.open))
            yield _gauge(EXPORTER_CONNECTIONS_LIMIT, float(listener.limit))
            closed = _counter(EXPORTER_CONNECTIONS_CLOSED, labels=[LABEL_REASON])
            for reason, count in sorted(listener.closed.items()):
                closed.add_metric([reason], float(count))
            yield closed
            errors = _counter(EXPORTER_ACCEPT_ERRORS, labels=[LABEL_ERROR])
            for name, count in sorted(listener.accept_errors.items()):
                errors.add_metric([name], float(count))
            yield errors
        if self.auth is not None:
            yield _counter(EXPORTER_AUTH_FAILURES, float(self.auth.failures))
            yield _counter(EXPORTER_AUTH_CHECKS, float(self.auth.checks))


def _help(name: str) -> str:
    return catalog.BY_NAME[name].help


def _gauge(name: str, value: float | None = None,
           labels: list[str] | None = None) -> GaugeMetricFamily:
    """A gauge family named and described by the catalog."""
    return GaugeMetricFamily(name, _help(name), value=value, labels=labels)


def _counter(name: str, value: float | None = None,
             labels: list[str] | None = None) -> CounterMetricFamily:
    """A counter family named and described by the catalog (prometheus-client drops the
    ``_total`` of ``name`` from the family name and puts it back on the sample)."""
    return CounterMetricFamily(name, _help(name), value=value, labels=labels)
