"""Per-site, per-day time from pubnet's own history: daily rollups where they are current,
the recorded changes for the rest.

A rollup is current when the maintenance windows that overlap its day are the ones it was
built with; otherwise (and for days not rolled up yet: today, yesterday, a day pubnet was
down at midnight) the day is computed from ``history_changes``, ``history_runs``, the
maintenance windows and the incidents, exactly as the rollup would have been.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dashboards.reports.history import DailyRow, HistoryDB, maintenance_key
from dashboards.reports.period import Day, days
from dashboards.reports.timeline import Covering, SiteTime, Spans, segments, split
from dashboards.reports.windows import site_coverings, site_maintenance
from inventory.model import Inventory

SITE = "site"


@dataclass(slots=True)
class Loaded:
    """What a source gives the report: per-site time for each day of the period."""

    days: list[Day]
    per_site: dict[str, list[SiteTime]]
    first_seen: dict[str, float]
    rollup_days: int = 0
    """Days read from rollups (the rest were computed from the changes)."""


def _day_key(windows: Sequence[tuple[int, str, float, float]], day: Day) -> str:
    return maintenance_key(w for w in windows if w[2] < day.end and w[3] > day.start)


def compute(db: HistoryDB, inventory: Inventory, span: Sequence[Day], now: float,
            heartbeat: float, maintenance: Mapping[str, Spans],
            coverings: Mapping[str, Sequence[Covering]]) -> dict[str, list[SiteTime]]:
    """Per-site time of consecutive ``span`` days from the recorded changes."""
    start, end = span[0].start, span[-1].end
    day_starts = [d.start for d in span]
    runs = [(r.started_at, r.end) for r in db.runs(start, end, now, heartbeat)]
    initial: dict[str, tuple[str, float]] = {}
    for run_start, run_end in runs:
        if run_start <= start < run_end:
            initial = db.status_before(SITE, inventory.sites, start, run_start)
            break
    changes: dict[str, list[tuple[float, str]]] = {}
    for element, status, at in db.changes(SITE, start, end):
        points = changes.get(element)
        if points is None:
            points = changes[element] = []
        points.append((at, status))
    empty = Spans()
    out: dict[str, list[SiteTime]] = {}
    for site_id in inventory.sites:
        points = changes.get(site_id, [])
        first = initial.get(site_id)
        if first is not None:
            points = [(first[1], first[0]), *points]
        if not points:
            continue
        stretches = segments(points, runs, start, end)
        out[site_id] = split(stretches, day_starts, end, maintenance.get(site_id, empty),
                             coverings.get(site_id, ()))
    return out


def load(db: HistoryDB, inventory: Inventory, start: float, end: float, now: float,
         heartbeat: float) -> Loaded:
    """Per-site time over ``[start, end)``: rollups for current whole days, changes for
    the rest."""
    period_days = days(start, end)
    windows = db.maintenance(start, end)
    maintenance = site_maintenance(inventory, windows, start, end)
    coverings = site_coverings(inventory, db.incidents(start, end), now)
    stored = db.rollup_days([d.day for d in period_days if d.whole])
    current = {d.day for d in period_days
               if d.whole and stored.get(d.day) == _day_key(windows, d)}
    index = {d.day: i for i, d in enumerate(period_days)}
    per_site: dict[str, list[SiteTime]] = {}

    def slot(site_id: str) -> list[SiteTime]:
        found = per_site.get(site_id)
        if found is None:
            found = per_site[site_id] = [SiteTime() for _ in period_days]
        return found

    known = inventory.sites
    for row in db.daily(sorted(current)):
        if row.site in known:
            slot(row.site)[index[row.day]] = _from_row(row)
    pending: list[Day] = []
    for day in [*period_days, None]:
        if day is not None and day.day not in current:
            pending.append(day)
            continue
        if pending:
            computed = compute(db, inventory, pending, now, heartbeat, maintenance, coverings)
            first = index[pending[0].day]
            for site_id, values in computed.items():
                target = slot(site_id)
                target[first:first + len(values)] = values
            pending = []
    return Loaded(period_days, per_site, db.first_seen(SITE), len(current))


def _from_row(row: DailyRow) -> SiteTime:
    return SiteTime(row.monitored, row.maintenance, row.up, row.down_equipment,
                    row.down_upstream, row.down_unknown, row.outages, row.continued,
                    set(row.incidents))


def rollup(db: HistoryDB, inventory: Inventory, day: Day, now: float,
           heartbeat: float) -> int:
    """Build (or rebuild) the rollup of one whole past day; returns the sites stored."""
    windows = db.maintenance(day.start, day.end)
    maintenance = site_maintenance(inventory, windows, day.start, day.end)
    coverings = site_coverings(inventory, db.incidents(day.start, day.end), now)
    computed = compute(db, inventory, [day], now, heartbeat, maintenance, coverings)
    rows = [DailyRow(day.day, site_id, t.monitored, t.maintenance, t.up, t.down_equipment,
                     t.down_upstream, t.down_unknown, t.outages, t.continued,
                     tuple(sorted(t.incidents)))
            for site_id, (t,) in computed.items()]
    db.save_rollup(day.day, _day_key(windows, day), rows, now)
    return len(rows)
