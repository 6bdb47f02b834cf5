"""``sites.csv``, ``districts.csv`` and ``provinces.csv``: the report's figures for machines.

Column names are an interface (issue 14): they never change, and a new one goes after
those of its kind (``outage_minutes_<cause>`` in the order of
:data:`~dashboards.reports.timeline.CAUSES`: ``power``, issue 16, after the others). UTF-8 with
a byte-order mark so that Excel opens Thai names correctly; numbers without thousands
separators, formatted by :mod:`dashboards.reports.text` exactly as the HTML prints them.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from dashboards.reports.figures import AreaFigures, SiteFigures
from dashboards.reports.text import minutes, pct, whole
from dashboards.reports.timeline import CAUSES, by_cause

CAUSE_COLUMNS = tuple(f"outage_minutes_{cause}" for cause in CAUSES)
SITE_COLUMNS = (
    "site_id", "name", "village", "kind", "province_code", "province_th", "province_en",
    "district_code", "district_th", "district_en", "monitored_seconds", "maintenance_seconds",
    "up_seconds", "availability_pct", *CAUSE_COLUMNS, "incidents", "mttr_minutes",
    "never_seen",
)
AREA_COLUMNS = (
    "code", "name_th", "name_en", "sites", "sites_seen", "sites_below_sla", "villages",
    "villages_served", "availability_pct", *CAUSE_COLUMNS,
)
DISTRICT_COLUMNS = (AREA_COLUMNS[0], "province_code", *AREA_COLUMNS[1:])


def site_record(row: SiteFigures) -> list[str]:
    s, t = row.site, row.time
    mttr = row.mttr_minutes
    return [
        s.site_id, s.name, s.village, s.kind.value, s.province_code, s.province_name_th,
        s.province_name_en, s.district_code, s.district_name_th, s.district_name_en,
        whole(t.monitored), whole(t.maintenance), whole(t.up), pct(row.availability),
        *map(minutes, by_cause(t)), str(len(t.incidents)),
        "" if mttr is None else f"{mttr:.1f}", "1" if row.never_seen else "0",
    ]


def area_record(area: AreaFigures, with_province: bool) -> list[str]:
    values = [
        area.code, area.name_th, area.name_en, str(area.sites), str(area.sites_seen),
        str(area.sites_below_sla), str(area.villages), str(area.villages_served),
        pct(area.availability), *map(minutes, by_cause(area)),
    ]
    if with_province:
        values.insert(1, area.province_code)
    return values


def _write(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(rows)


def write_csvs(folder: Path, sites: Sequence[SiteFigures], districts: Sequence[AreaFigures],
               provinces: Sequence[AreaFigures]) -> list[Path]:
    paths = [folder / "sites.csv", folder / "districts.csv", folder / "provinces.csv"]
    _write(paths[0], SITE_COLUMNS, [site_record(r) for r in sites])
    _write(paths[1], DISTRICT_COLUMNS, [area_record(a, True) for a in districts])
    _write(paths[2], AREA_COLUMNS, [area_record(a, False) for a in provinces])
    return paths
