"""The report's figures from per-site time: sites, districts, provinces, the nation, days.

Pure functions over :class:`~dashboards.reports.timeline.SiteTime` values and the
inventory, so every number can be checked by hand. Definitions (also printed in the
report's footer):

* ``monitored_seconds``: time in the period pubnet had a status for the site.
* ``maintenance_seconds``: the part of it inside one of the site's maintenance windows
  (scope site, district, province or a device of the site); it counts neither as up nor
  as monitored for availability.
* ``availability_pct = 100 × up_seconds / (monitored_seconds − maintenance_seconds)``.
* District, province and national availability are weighted by site-time: the sum of up
  over the sum of monitored-outside-maintenance, not an average of percentages.
* A site never seen in the period has no availability (``never_seen``), not 0 or 100 %.
* A village is served when at least one of its sites met the SLA.
* Completeness: monitored time over expected time: the part of the period already past, or
  from the moment a site was first seen when it was commissioned during the period (such
  sites are flagged). A site is commissioned during the period when pubnet, already
  watching the fleet, first saw it after the period began; the sites pubnet found when it
  first ran were there before (the time before is unmonitored, not prorated away).
* MTTR: down minutes outside maintenance over the number of outages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from dashboards.reports.timeline import SiteTime, add_seconds, by_cause, outage_count
from inventory.model import Site


def availability(up: float, monitored: float, maintenance: float) -> float | None:
    """``100 × up / (monitored − maintenance)``; None when nothing counts."""
    base = monitored - maintenance
    if base <= 0:
        return None
    return 100.0 * up / base


@dataclass(frozen=True, slots=True)
class SiteFigures:
    site: Site
    time: SiteTime
    expected: float
    """Seconds the site should have been watched: the period, or from commissioning."""
    commissioned: float | None = None
    """When a site first seen during the period was first seen (prorated, flagged)."""

    @property
    def never_seen(self) -> bool:
        return self.time.monitored <= 0

    @property
    def availability(self) -> float | None:
        return availability(self.time.up, self.time.monitored, self.time.maintenance)

    @property
    def completeness(self) -> float | None:
        return None if self.expected <= 0 else min(1.0, self.time.monitored / self.expected)

    @property
    def outages(self) -> int:
        return outage_count(self.time)

    @property
    def mttr_minutes(self) -> float | None:
        count = self.outages
        return None if count == 0 else self.time.down / 60.0 / count

    def below(self, sla: float) -> bool:
        value = self.availability
        return value is not None and value < sla

    def meets(self, sla: float) -> bool:
        value = self.availability
        return value is not None and value >= sla


@dataclass(slots=True)
class AreaFigures:
    """A district, a province or the nation: the :data:`~dashboards.reports.timeline.SUMMED`
    seconds of its sites, and counts."""

    code: str
    name_th: str
    name_en: str
    province_code: str = ""
    sites: int = 0
    sites_seen: int = 0
    sites_below_sla: int = 0
    villages: int = 0
    villages_served: int = 0
    monitored: float = 0.0
    maintenance: float = 0.0
    up: float = 0.0
    expected: float = 0.0
    down_equipment: float = 0.0
    down_upstream: float = 0.0
    down_unknown: float = 0.0
    down_power: float = 0.0
    outages: int = 0
    incidents: set[str] = field(default_factory=set)

    @property
    def availability(self) -> float | None:
        return availability(self.up, self.monitored, self.maintenance)

    @property
    def completeness(self) -> float | None:
        return None if self.expected <= 0 else min(1.0, self.monitored / self.expected)

    @property
    def down(self) -> float:
        return sum(by_cause(self))

    @property
    def mttr_minutes(self) -> float | None:
        return None if self.outages == 0 else self.down / 60.0 / self.outages


def village_key(site: Site) -> tuple[str, str]:
    """A village is its name within its subdistrict (names repeat across the country)."""
    return (site.subdistrict_code, site.village.strip())


COMMISSIONING_GRACE = 3600.0
"""A site first seen within this long of pubnet's first sight of the fleet was found, not
commissioned: the first polls of 25,000 sites after pubnet's first start take minutes."""


def commissioned_sites(first_seen: Mapping[str, float], period_start: float) -> (
    dict[str, float]
):
    """Sites commissioned during the period → when first seen: first seen after the period
    began and after pubnet had started seeing the fleet (module docstring)."""
    if not first_seen:
        return {}
    fleet_seen = min(first_seen.values()) + COMMISSIONING_GRACE
    return {site_id: at for site_id, at in first_seen.items()
            if at > period_start and at > fleet_seen}


def site_figures(sites: Iterable[Site], totals: Mapping[str, SiteTime],
                 period_seconds: float, period_start: float,
                 commissioned_at: Mapping[str, float]) -> list[SiteFigures]:
    """One :class:`SiteFigures` per inventory site, in inventory order. ``period_seconds``
    is the part of the period already past; a site of ``commissioned_at`` (see
    :func:`commissioned_sites`) is prorated from that moment."""
    found = []
    for site in sites:
        time = totals.get(site.site_id) or SiteTime()
        commissioned = commissioned_at.get(site.site_id)
        expected = period_seconds
        if commissioned is not None:
            expected = max(0.0, period_seconds - (commissioned - period_start))
        found.append(SiteFigures(site, time, expected, commissioned))
    return found


def _area(rows: Sequence[SiteFigures], code: str, name_th: str, name_en: str, sla: float,
          province_code: str = "") -> AreaFigures:
    area = AreaFigures(code, name_th, name_en, province_code)
    villages: set[tuple[str, str]] = set()
    served: set[tuple[str, str]] = set()
    for row in rows:
        t = row.time
        area.sites += 1
        key = village_key(row.site)
        villages.add(key)
        area.expected += row.expected
        if row.never_seen:
            continue
        area.sites_seen += 1
        if row.below(sla):
            area.sites_below_sla += 1
        if row.meets(sla):
            served.add(key)
        add_seconds(area, t)
        area.outages += row.outages
        area.incidents |= t.incidents
    area.villages = len(villages)
    area.villages_served = len(served)
    return area


def _areas(rows: Sequence[SiteFigures], sla: float,
           area_of: Callable[[Site], tuple[str, str, str, str]]) -> list[AreaFigures]:
    """One row per area with sites, by code; ``area_of`` gives a site's area as (code,
    Thai name, English name, province code or "")."""
    groups: dict[str, list[SiteFigures]] = {}
    for row in rows:
        groups.setdefault(area_of(row.site)[0], []).append(row)
    out = []
    for code in sorted(groups):
        _code, name_th, name_en, province_code = area_of(groups[code][0].site)
        out.append(_area(groups[code], code, name_th, name_en, sla, province_code))
    return out


def districts(rows: Sequence[SiteFigures], sla: float) -> list[AreaFigures]:
    """One row per district with sites, by code."""
    return _areas(rows, sla, lambda s: (s.district_code, s.district_name_th,
                                        s.district_name_en, s.province_code))


def provinces(rows: Sequence[SiteFigures], sla: float) -> list[AreaFigures]:
    """One row per province with sites, by code."""
    return _areas(rows, sla, lambda s: (s.province_code, s.province_name_th,
                                        s.province_name_en, ""))


def nation(rows: Sequence[SiteFigures], sla: float) -> AreaFigures:
    return _area(rows, "TH", "ประเทศไทย", "Thailand", sla)


def daily(day_names: Sequence[str], up: Sequence[float], base: Sequence[float]) -> (
    list[tuple[str, float | None]]
):
    """National availability of each day, weighted by site-time: up seconds over
    monitored-minus-maintenance seconds of all sites that day."""
    return [(name, 100.0 * u / b if b > 0 else None)
            for name, u, b in zip(day_names, up, base, strict=True)]


def worst(rows: Sequence[SiteFigures], count: int = 20) -> list[SiteFigures]:
    """The ``count`` seen sites with the lowest availability (most down time first on a
    tie), then by id."""
    seen = [r for r in rows if r.availability is not None]
    seen.sort(key=lambda r: (r.availability, -r.time.down, r.site.site_id))
    return seen[:count]
