"""Per-site, per-day time from ``pubnet_site_up`` in any Prometheus-compatible query API.

A national deployment keeps months of metrics in Prometheus, VictoriaMetrics, Thanos or
Mimir; this reads them with the plain HTTP query API, so any of them will do. Each sample
stands for its share of time (the scrape interval, estimated as the median spacing of the
samples): availability is the fraction of samples equal to 1 among the samples outside
maintenance. Maintenance windows and incidents still come from pubnet's database.

Cost is kept national-sized: two aggregate queries per day (``count_over_time`` and
``sum_over_time`` by site) give every quiet site-day; raw samples are fetched only for the
site-days that had a down sample or a maintenance window, in batches of sites.
"""

from __future__ import annotations

import json
import statistics
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from itertools import pairwise
from pathlib import Path

from dashboards.reports.history import HistoryDB
from dashboards.reports.period import Day, days
from dashboards.reports.report import LinkUse, Options, Report, ReportError, figures_from
from dashboards.reports.source_history import Loaded
from dashboards.reports.timeline import (
    EQUIPMENT,
    POWER,
    UPSTREAM,
    Covering,
    SiteTime,
    Spans,
)
from dashboards.reports.windows import site_coverings, site_maintenance
from inventory.model import Inventory

METRIC = "pubnet_site_up"
LINK_METRIC = "pubnet_link_utilization_ratio"
TIMEOUT = 60.0
BATCH = 80
"""Sites per raw-sample query (keeps the regex and the answer small)."""
EDGE = 0.001
"""Evaluate just before a day's end: its window is [start, end) for second-aligned samples
whether the store's range selectors are closed (Prometheus 2) or left-open (3)."""


class PromClient:
    """The few calls of the HTTP API the report needs. Raises :class:`ReportError`."""

    def __init__(self, url: str, timeout: float = TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def query(self, promql: str, at: float) -> list[dict[str, object]]:
        body = urllib.parse.urlencode({"query": promql, "time": f"{at:.3f}"}).encode()
        request = urllib.request.Request(self.url + "/api/v1/query", data=body,
                                         headers={"Content-Type":
                                                  "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode(errors="replace")
            raise ReportError(f"Prometheus at {self.url} refused a query (HTTP {exc.code}): "
                              f"{detail}") from None
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ReportError(f"cannot reach Prometheus at {self.url}: {reason}") from None
        except ValueError:
            raise ReportError(f"{self.url} did not answer like a Prometheus query API "
                              "(not JSON)") from None
        if not isinstance(data, dict) or data.get("status") != "success":
            error = data.get("error") if isinstance(data, dict) else data
            raise ReportError(f"Prometheus at {self.url}: query failed: {str(error)[:300]}")
        result = data.get("data", {}).get("result", [])
        return result if isinstance(result, list) else []


def _by_site(result: Sequence[Mapping[str, object]]) -> dict[str, float]:
    found: dict[str, float] = {}
    for item in result:
        metric = item.get("metric")
        value = item.get("value")
        if isinstance(metric, dict) and isinstance(value, list) and len(value) == 2:
            site = metric.get("site")
            if isinstance(site, str):
                found[site] = found.get(site, 0.0) + float(value[1])
    return found


def _samples(result: Sequence[Mapping[str, object]]) -> dict[str, list[tuple[float, float]]]:
    found: dict[str, list[tuple[float, float]]] = {}
    for item in result:
        metric = item.get("metric")
        values = item.get("values")
        if isinstance(metric, dict) and isinstance(values, list):
            site = metric.get("site")
            if isinstance(site, str):
                found.setdefault(site, []).extend((float(t), float(v)) for t, v in values)
    for samples in found.values():
        samples.sort()
    return found


def _regex(sites: Sequence[str]) -> str:
    return "|".join(_escape_re(s) for s in sites)


def _escape_re(text: str) -> str:
    special = set("\\.^$|?*+()[]{}")
    escaped = "".join("\\" + c if c in special else c for c in text)
    return escaped.replace("\\", "\\\\").replace('"', '\\"')


def estimate_step(samples: Mapping[str, Sequence[tuple[float, float]]]) -> float | None:
    """The scrape interval: the median spacing of consecutive samples."""
    gaps = [b[0] - a[0] for series in samples.values() for a, b in pairwise(series)
            if b[0] > a[0]]
    return statistics.median(gaps) if gaps else None


def day_from_samples(samples: Sequence[tuple[float, float]], step: float,
                     maintenance: Spans, coverings: Sequence[Covering],
                     previous_down: float | None) -> tuple[SiteTime, float | None]:
    """One site-day from its samples; ``previous_down`` is the time of the last down sample
    (outside maintenance) before, to join an outage across days. Returns the day and the
    new ``previous_down``."""
    day = SiteTime()
    upstream = Spans([(c.start, c.end) for c in coverings if c.cause == UPSTREAM])
    equipment = Spans([(c.start, c.end) for c in coverings if c.cause == EQUIPMENT])
    power = Spans([(c.start, c.end) for c in coverings if c.cause == POWER])
    last_down = previous_down
    for ts, value in samples:
        day.monitored += step
        if maintenance and maintenance.covers(ts):
            day.maintenance += step
            continue
        if value >= 1:
            day.up += step
            continue
        if power.covers(ts):  # the precedence of dashboards.reports.timeline
            day.down_power += step
        elif upstream.covers(ts):
            day.down_upstream += step
        elif equipment.covers(ts):
            day.down_equipment += step
        else:
            day.down_unknown += step
        if last_down is not None and ts - last_down <= 1.5 * step:
            if last_down < samples[0][0]:
                day.continued = True
        else:
            day.outages += 1
        last_down = ts
        for c in coverings:
            if c.start <= ts < c.end:
                if c.incident_id not in day.incidents:
                    day.incidents = day.incidents | {c.incident_id}
    return day, last_down


def load(client: PromClient, inventory: Inventory, start: float, end: float,
         maintenance: Mapping[str, Spans], coverings: Mapping[str, Sequence[Covering]]) -> (
    Loaded
):
    period_days = days(start, end)
    counts: list[dict[str, float]] = []
    sums: list[dict[str, float]] = []
    for day in period_days:
        span = f"{round((day.end - day.start) * 1000)}ms"
        at = day.end - EDGE
        counts.append(_by_site(client.query(f"sum by (site) (count_over_time({METRIC}[{span}]))",
                                            at)))
        sums.append(_by_site(client.query(f"sum by (site) (sum_over_time({METRIC}[{span}]))",
                                          at)))
    known = inventory.sites
    detail: list[list[str]] = []
    for i, day in enumerate(period_days):
        wanted = []
        for site_id, count in counts[i].items():
            if site_id not in known:
                continue
            m = maintenance.get(site_id)
            touched = m is not None and any(s < day.end and e > day.start
                                            for s, e in zip(m.starts, m.ends, strict=True))
            if sums[i].get(site_id, 0.0) < count or touched:
                wanted.append(site_id)
        detail.append(sorted(wanted))
    raw: list[dict[str, list[tuple[float, float]]]] = []
    for i, day in enumerate(period_days):
        fetched: dict[str, list[tuple[float, float]]] = {}
        for b in range(0, len(detail[i]), BATCH):
            batch = detail[i][b:b + BATCH]
            fetched.update(_raw(client, day, f'{{site=~"{_regex(batch)}"}}'))
        raw.append(fetched)
    step = estimate_step({k: v for r in raw for k, v in r.items()})
    if step is None:
        step = _probe_step(client, period_days, counts)
    loaded = Loaded(period_days)
    first_day: dict[str, int] = {}
    empty = Spans()
    for site_id in known:
        per_day: list[SiteTime] = []
        last_down: float | None = None
        seen = False
        for i, _day in enumerate(period_days):
            count = counts[i].get(site_id, 0.0)
            if count > 0 and not seen:
                seen = True
                first_day[site_id] = i
            samples = raw[i].get(site_id)
            if samples is not None:
                value, last_down = day_from_samples(
                    samples, step, maintenance.get(site_id, empty),
                    coverings.get(site_id, ()), last_down)
            else:
                value = SiteTime(monitored=count * step, up=sums[i].get(site_id, 0.0) * step)
                last_down = None
            per_day.append(value)
        if seen:
            for i, value in enumerate(per_day):
                loaded.add(site_id, i, value)
    # The start of each site's first day with samples: a site that appears days after the
    # rest was commissioned (figures.commissioned_sites decides, as for the history).
    loaded.first_seen = {site_id: period_days[i].start for site_id, i in first_day.items()}
    return loaded


def _raw(client: PromClient, day: Day, selector: str) -> dict[str, list[tuple[float, float]]]:
    span = f"{round((day.end - day.start) * 1000)}ms"
    return _samples(client.query(f"{METRIC}{selector}[{span}]", day.end - EDGE))


def _probe_step(client: PromClient, period_days: Sequence[Day],
                counts: Sequence[Mapping[str, float]]) -> float:
    """The scrape interval from one series of the busiest day (no site-day needed raw
    samples, so none were fetched)."""
    busiest = max(range(len(period_days)), key=lambda i: max(counts[i].values(), default=0))
    if not counts[busiest]:
        return 60.0
    site = max(counts[busiest], key=lambda s: counts[busiest][s])
    samples = _raw(client, period_days[busiest], f'{{site="{_escape_re(site)}"}}')
    return estimate_step(samples) or 60.0


def busy_links(client: PromClient, start: float, end: float, threshold: float) -> (
    list[LinkUse]
):
    """Links whose p95 utilisation over the period exceeds ``threshold`` (a ratio)."""
    span = f"{round((end - start) * 1000)}ms"
    result = client.query(f"quantile_over_time(0.95, {LINK_METRIC}[{span}]) > {threshold}",
                          end - EDGE)
    found = []
    for item in result:
        metric = item.get("metric")
        value = item.get("value")
        if isinstance(metric, dict) and isinstance(value, list):
            found.append(LinkUse(str(metric.get("link", "")), str(metric.get("direction", "")),
                                 float(value[1])))
    found.sort(key=lambda u: (-u.p95, u.link_id, u.direction))
    return found


def gather_prometheus(database: Path, inventory: Inventory, options: Options,
                      now: float) -> Report:
    """The report from ``pubnet_site_up`` in Prometheus; maintenance and incidents from
    the database. Raises :class:`ReportError`."""
    import sqlite3

    from dashboards.reports.report import _check_period

    period = options.period
    _check_period(period, now)
    if options.prometheus_url is None:
        raise ReportError("--source prometheus needs --prometheus-url URL")
    start, end = period.start_ts, min(period.end_ts, now)
    if not database.is_file():
        raise ReportError(f"{database}: no pubnet database (maintenance windows and "
                          "incidents always come from it)")
    try:
        with HistoryDB(database, readonly=True) as db:
            windows = db.maintenance(start, end)
            incidents = db.incidents(start, end)
    except sqlite3.Error as exc:
        raise ReportError(f"{database}: {exc}") from None
    client = PromClient(options.prometheus_url)
    client.query("vector(1)", now)  # reachable, and a query API
    loaded = load(client, inventory, start, end, site_maintenance(inventory, windows, start,
                                                                  end),
                  site_coverings(inventory, incidents, now))
    if not loaded.totals:
        raise ReportError(f"Prometheus at {options.prometheus_url} has no {METRIC} samples "
                          "for this period")
    report = figures_from(loaded, inventory, options, now, str(database))
    report.links = busy_links(client, start, end, options.link_threshold)
    return report
