"""Per-site, per-day time from pubnet's own history: daily rollups where they are current,
the recorded changes for the rest.

A rollup is current when the maintenance windows that overlap its day are the ones it was
built with; otherwise (and for days not rolled up yet: today, yesterday, a day pubnet was
down at midnight) the day is computed from ``history_changes``, ``history_runs``, the
maintenance windows and the incidents, exactly as the rollup would have been.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from dashboards.reports.history import DailyRow, HistoryDB, maintenance_key
from dashboards.reports.period import Day, days
from dashboards.reports.timeline import (
    Covering,
    SiteTime,
    Spans,
    add_row_seconds,
    segments,
    split,
    summed,
)
from dashboards.reports.windows import site_coverings, site_maintenance
from inventory.gc_pause import gc_paused
from inventory.model import Inventory

SITE = "site"


@dataclass(slots=True)
class Loaded:
    """What a source gives the report: each site's time over the period and the nation's
    day by day, accumulated as the days are read (a national month is 775,000 site-days:
    they are summed, never all kept)."""

    days: list[Day]
    totals: dict[str, SiteTime] = field(default_factory=dict)
    daily_up: list[float] = field(default_factory=list)
    daily_base: list[float] = field(default_factory=list)
    """Per day: up seconds, and monitored-minus-maintenance seconds, of all sites."""
    first_seen: dict[str, float] = field(default_factory=dict)
    rollup_days: int = 0
    """Days read from rollups (the rest were computed from the changes)."""

    def __post_init__(self) -> None:
        if not self.daily_up:
            self.daily_up = [0.0] * len(self.days)
            self.daily_base = [0.0] * len(self.days)

    def _total(self, site_id: str) -> SiteTime:
        total = self.totals.get(site_id)
        if total is None:
            total = self.totals[site_id] = SiteTime()
        return total

    def add(self, site_id: str, index: int, t: SiteTime) -> None:
        """Day ``index`` of a site (days of a site may come in any order)."""
        if not t.monitored:
            return
        total = self._total(site_id)
        if index == 0:
            total.continued = t.continued
        total.add(t)
        self.daily_up[index] += t.up
        self.daily_base[index] += t.monitored - t.maintenance

    def add_row(self, site_id: str, index: int, outages: int, continued: int,
                incidents: str, seconds: Sequence[float]) -> None:
        """A ``history_daily`` row as :meth:`HistoryDB.daily_rows` reads it (``seconds`` in
        :data:`~dashboards.reports.timeline.SUMMED` order: monitored, maintenance, up,
        down by cause), without building a :class:`SiteTime` for it."""
        monitored, maintenance, up = seconds[0], seconds[1], seconds[2]
        if not monitored:
            return
        total = self._total(site_id)
        if index == 0:
            total.continued = bool(continued)
        add_row_seconds(total, seconds)
        total.outages += outages
        if incidents:
            total.incidents = total.incidents | frozenset(incidents.split(","))
        self.daily_up[index] += up
        self.daily_base[index] += monitored - maintenance

def _day_key(windows: Sequence[tuple[int, str, float, float]], day: Day) -> str:
    return maintenance_key(w for w in windows if w[2] < day.end and w[3] > day.start)


def compute(db: HistoryDB, inventory: Inventory, span: Sequence[Day], now: float,
            heartbeat: float, maintenance: Mapping[str, Spans],
            coverings: Mapping[str, Sequence[Covering]],
            emit: Callable[[str, int, SiteTime], None]) -> None:
    """Per-site time of consecutive ``span`` days from the recorded changes, handed to
    ``emit(site, day offset, time)`` one site at a time (the changes are streamed in site
    order, never all held)."""
    start, end = span[0].start, span[-1].end
    day_starts = [d.start for d in span]
    runs = [(r.started_at, r.end) for r in db.runs(start, end, now, heartbeat)]
    initial: dict[str, tuple[str, float]] = {}
    for run_start, run_end in runs:
        if run_start <= start < run_end:
            initial = db.status_before(SITE, inventory.sites, start, run_start)
            break
    empty = Spans()
    known = inventory.sites

    def one(site_id: str, points: list[tuple[float, str]]) -> None:
        first = initial.get(site_id)
        if first is not None:
            points.insert(0, (first[1], first[0]))
        if not points:
            return
        stretches = segments(points, runs, start, end)
        for offset, value in enumerate(split(stretches, day_starts, end,
                                             maintenance.get(site_id, empty),
                                             coverings.get(site_id, ()))):
            emit(site_id, offset, value)

    done: set[str] = set()
    current: str | None = None
    points: list[tuple[float, str]] = []
    for element, status, at in db.changes(SITE, start, end):
        if element != current:
            if current is not None and current in known:
                one(current, points)
                done.add(current)
            current, points = element, []
        points.append((at, status))
    if current is not None and current in known:
        one(current, points)
        done.add(current)
    for site_id in initial:
        if site_id not in done and site_id in known:
            one(site_id, [])


def load(db: HistoryDB, inventory: Inventory, start: float, end: float, now: float,
         heartbeat: float) -> Loaded:
    """Per-site time over ``[start, end)``: rollups for current whole days, changes for
    the rest."""
    period_days = days(start, end)
    windows = db.maintenance(start, end)
    maintenance = site_maintenance(inventory, windows, start, end)
    stored = db.rollup_days([d.day for d in period_days if d.whole])
    current = {d.day for d in period_days
               if d.whole and stored.get(d.day) == _day_key(windows, d)}
    # Incidents only for the days computed from the changes (rollups hold their causes):
    # reading a national month's 160,000 incidents cost a third of a rollup report.
    stale = [d for d in period_days if d.day not in current]
    coverings = site_coverings(inventory, db.incidents(stale[0].start, stale[-1].end),
                               now) if stale else {}
    index = {d.day: i for i, d in enumerate(period_days)}
    loaded = Loaded(period_days, first_seen=db.first_seen(SITE), rollup_days=len(current))
    known = inventory.sites
    with gc_paused():
        for day, site_id, outages, continued, incidents, *seconds in db.daily_rows(
                sorted(current)):
            if site_id in known:
                loaded.add_row(site_id, index[day], outages, continued, incidents, seconds)
        pending: list[Day] = []
        for day_or_end in [*period_days, None]:
            if day_or_end is not None and day_or_end.day not in current:
                pending.append(day_or_end)
                continue
            if pending:
                compute(db, inventory, pending, now, heartbeat, maintenance, coverings,
                        _shifted(loaded, index[pending[0].day]))
                pending = []
    return loaded


def _shifted(loaded: Loaded, first: int) -> Callable[[str, int, SiteTime], None]:
    def emit(site_id: str, offset: int, value: SiteTime) -> None:
        loaded.add(site_id, first + offset, value)

    return emit


def rollup(db: HistoryDB, inventory: Inventory, day: Day, now: float,
           heartbeat: float) -> int:
    """Build (or rebuild) the rollup of one whole past day; returns the sites stored."""
    windows = db.maintenance(day.start, day.end)
    maintenance = site_maintenance(inventory, windows, day.start, day.end)
    coverings = site_coverings(inventory, db.incidents(day.start, day.end), now)
    rows: list[DailyRow] = []

    def keep(site_id: str, _offset: int, t: SiteTime) -> None:
        rows.append(DailyRow(day.day, site_id, t.outages, t.continued,
                             tuple(sorted(t.incidents)), *summed(t)))

    compute(db, inventory, [day], now, heartbeat, maintenance, coverings, keep)
    db.save_rollup(day.day, _day_key(windows, day), rows, now)
    return len(rows)
