"""The one table of outage causes (``dashboards.reports.timeline.CAUSES``): each cause has
every piece the report needs, every sum covers every cause, and the CSV headers it
generates are still the interface of issue 14/16, letter for letter."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from dashboards.reports.charts import CAUSE_FILL
from dashboards.reports.csvout import AREA_COLUMNS, DISTRICT_COLUMNS, SITE_COLUMNS
from dashboards.reports.figures import AreaFigures
from dashboards.reports.history import DailyRow, HistoryDB
from dashboards.reports.source_history import Loaded
from dashboards.reports.text import TEXT
from dashboards.reports.timeline import (
    CAUSES,
    DOWN_FIELDS,
    SUMMED,
    SiteTime,
    add_seconds,
    by_cause,
    summed,
)


def _fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def test_every_cause_has_its_fields_texts_fill_and_column(tmp_path: Path) -> None:
    with HistoryDB(tmp_path / "pubnet.db") as db:
        columns = {str(r[1]) for r in db.conn.execute("PRAGMA table_info(history_daily)")}
    for cause, name in zip(CAUSES, DOWN_FIELDS, strict=True):
        assert name in _fields(SiteTime) & _fields(AreaFigures) & _fields(DailyRow) & columns
        assert {"th", "en"} <= TEXT[f"cause_{cause}"].keys() & TEXT[f"col_{cause}"].keys()
        assert cause in CAUSE_FILL
    assert set(SUMMED) <= columns


def test_the_csv_headers_are_the_interface() -> None:
    assert SITE_COLUMNS == (
        "site_id", "name", "village", "kind", "province_code", "province_th", "province_en",
        "district_code", "district_th", "district_en", "monitored_seconds",
        "maintenance_seconds", "up_seconds", "availability_pct", "outage_minutes_equipment",
        "outage_minutes_upstream", "outage_minutes_unknown", "outage_minutes_power",
        "incidents", "mttr_minutes", "never_seen")
    assert AREA_COLUMNS == (
        "code", "name_th", "name_en", "sites", "sites_seen", "sites_below_sla", "villages",
        "villages_served", "availability_pct", "outage_minutes_equipment",
        "outage_minutes_upstream", "outage_minutes_unknown", "outage_minutes_power")
    assert DISTRICT_COLUMNS == ("code", "province_code", *AREA_COLUMNS[1:])


def _distinct() -> SiteTime:
    """A day whose every summed field has its own value (1, 2, 3, ...)."""
    return SiteTime(**{name: float(i + 1) for i, name in enumerate(SUMMED)}, outages=2,
                    incidents=frozenset({"INC-1"}))


def test_every_sum_covers_every_summed_field() -> None:
    day = _distinct()
    expected = tuple(2.0 * (i + 1) for i in range(len(SUMMED)))
    total = SiteTime()
    total.add(day)
    total.add(day)
    assert summed(total) == expected and total.outages == 4
    assert total.down == sum(by_cause(day)) * 2

    area = AreaFigures("TH", "", "")
    add_seconds(area, day)
    add_seconds(area, day)
    assert summed(area) == expected and area.down == total.down

    loaded = Loaded([])
    loaded.daily_up, loaded.daily_base = [0.0], [0.0]
    row = DailyRow("2026-11-01", "S1", 2, False, ("INC-1",), *summed(day))
    loaded.add_row("S1", 0, row.outages, 0, "INC-1", summed(row))
    loaded.add_row("S1", 0, row.outages, 0, "INC-1", summed(row))
    assert summed(loaded.totals["S1"]) == expected and loaded.totals["S1"].outages == 4
    assert loaded.daily_up == [2 * day.up]
    assert loaded.daily_base == [2 * (day.monitored - day.maintenance)]
