"""Outage minutes of a power cut (issue 16): time a ``power`` incident covered counts as
``outage_minutes_power``, never as equipment or upstream, from the site to the nation, and
a database written before the column existed still gives the right figures.

The month is tests/reports/month.py: the power cut of 22 Nov in district 4001 (S5 and S6).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from dashboards.reports.timeline import (
    EQUIPMENT,
    POWER,
    UPSTREAM,
    Covering,
    SiteTime,
    split,
)
from pubnet.cli import main
from tests.reports import month
from tests.reports.test_month_history import check_areas, check_sites, read_csv, run_report

H = 3600.0


@pytest.mark.parametrize(("causes", "expected"), [
    ((POWER, EQUIPMENT), (0.0, 0.0, 0.0, 2 * H)),
    ((UPSTREAM, POWER), (0.0, 0.0, 0.0, 2 * H)),
    ((EQUIPMENT, UPSTREAM, POWER), (0.0, 0.0, 0.0, 2 * H)),
    ((EQUIPMENT, UPSTREAM), (0.0, 2 * H, 0.0, 0.0)),
    ((EQUIPMENT,), (2 * H, 0.0, 0.0, 0.0)),
    ((), (0.0, 0.0, 2 * H, 0.0)),
], ids=["power-over-equipment", "power-over-upstream", "power-over-both",
        "upstream-over-equipment", "equipment", "unknown"])
def test_cause_precedence(causes: tuple[str, ...], expected: tuple[float, ...]) -> None:
    """A site down 01:00-03:00 covered, the whole time, by an incident of each cause."""
    coverings = [Covering(f"INC-{i}", H, 3 * H, cause) for i, cause in enumerate(causes)]
    (day,) = split([(H, 3 * H, "down", H)], [0.0], 86400.0, None, coverings)
    assert (day.down_equipment, day.down_upstream, day.down_unknown,
            day.down_power) == expected
    assert day.down == 2 * H and day.outages == 1


def test_power_only_while_covered() -> None:
    """Down 01:00-04:00; a site incident 01:00-01:10 merged into a power incident that
    covers 01:00-03:00: two hours power, the last hour unknown, no equipment minute."""
    coverings = [Covering("INC-1", H, H + 600, EQUIPMENT), Covering("INC-2", H, 3 * H, POWER)]
    (day,) = split([(H, 4 * H, "down", H)], [0.0], 86400.0, None, coverings)
    assert (day.down_equipment, day.down_power, day.down_unknown) == (0.0, 2 * H, H)
    assert day.incidents == {"INC-1", "INC-2"}
    total = SiteTime()
    total.add(day)
    total.add(day)
    assert total.down_power == 4 * H and total.down == 6 * H


def test_nation_summary_and_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = month.write_setup(tmp_path)
    out = tmp_path / "th"
    assert run_report(config, out) == 0
    summary = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    equipment, upstream, unknown, power = month.NATION
    assert (summary["outage_minutes_equipment"], summary["outage_minutes_upstream"],
            summary["outage_minutes_unknown"], summary["outage_minutes_power"]) == (
        equipment, upstream, unknown, power)
    html = (out / "coverage.html").read_text(encoding="utf-8")
    assert "ไฟฟ้าดับ 180.0" in html  # the national tile
    assert "<th class='n'>ไฟฟ้าดับ (นาที)</th>" in html  # province and worst-sites tables
    chart = html[html.index('id="by-cause"'):html.index('id="by-day"')]
    assert 'fill="url(#cb-power)"' in chart and 'id="cb-power"' in chart
    assert chart.count('fill="url(#cb-power)"') == 3  # legend, the nation, province 40
    english = tmp_path / "en"
    assert run_report(config, english, "--lang", "en") == 0
    html = (english / "coverage.html").read_text(encoding="utf-8")
    assert "Power cut 180.0" in html and "Power cut (min)" in html


def _legacy(db_path: Path) -> None:
    """What a pubnet from before ``down_power`` left: rollups without the column, whose
    power-cut day counted the power time as equipment (the power incident's sites were
    its members, rooted at an area: not "upstream" of them either)."""
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE history_daily SET down_equipment = down_equipment + down_power")
        conn.execute("ALTER TABLE history_daily DROP COLUMN down_power")


def test_database_without_the_power_column(tmp_path: Path) -> None:
    from dashboards.reports.history import HistoryDB
    from dashboards.reports.period import Day, days
    from dashboards.reports.source_history import load, rollup

    config = month.write_setup(tmp_path)
    inv = month.inventory()
    db_path = tmp_path / "pubnet.db"
    now = month.at(3, 12, month=12)
    period = days(month.at(1), month.at(1, month=12))
    with HistoryDB(db_path) as db:
        for day in period:
            rollup(db, inv, day, now, 10.0)
    _legacy(db_path)

    # Read-only (the report): the power-cut day is recomputed, the others read as stored.
    with HistoryDB(db_path, readonly=True) as db:
        assert load(db, inv, period[0].start, period[-1].end, now, 10.0).rollup_days == 29
    old = tmp_path / "old"
    assert run_report(config, old) == 0
    _, sites = read_csv(old / "sites.csv")
    check_sites(sites)
    _, provinces = read_csv(old / "provinces.csv")
    _, districts = read_csv(old / "districts.csv")
    check_areas(provinces, districts)
    with sqlite3.connect(db_path) as conn:  # the report never writes
        assert "down_power" not in {r[1] for r in conn.execute("PRAGMA table_info(history_daily)")}

    # Writable (the recorder): the column is added, the stale day dropped and rebuilt.
    with HistoryDB(db_path) as db:
        assert "down_power" in {r[1] for r in db.conn.execute("PRAGMA table_info(history_daily)")}
        built = db.rollup_days([d.day for d in period])
        assert sorted({d.day for d in period} - set(built)) == ["2026-11-22"]
        kept = {r.site: r for r in db.daily(["2026-11-08"])}
        assert kept["S6"].down_equipment == 86400 and kept["S6"].down_power == 0
        cut: Day = next(d for d in period if d.day == "2026-11-22")
        rollup(db, inv, cut, now, 10.0)
        rebuilt = {r.site: r for r in db.daily(["2026-11-22"])}
        assert (rebuilt["S6"].down_equipment, rebuilt["S6"].down_power) == (0.0, 120 * 60)
        assert load(db, inv, period[0].start, period[-1].end, now, 10.0).rollup_days == 30
    new = tmp_path / "new"
    assert run_report(config, new) == 0
    for name in ("sites.csv", "districts.csv", "provinces.csv"):
        assert (new / name).read_bytes() == (old / name).read_bytes(), name


def test_prometheus_source_splits_power(tmp_path: Path) -> None:
    """``day_from_samples`` (the Prometheus path) applies the same precedence."""
    from dashboards.reports.source_prometheus import day_from_samples
    from dashboards.reports.timeline import Spans

    samples = [(H + 60 * i, 0.0) for i in range(120)]  # down 01:00-03:00, one a minute
    coverings = [Covering("INC-1", H, 2 * H, EQUIPMENT), Covering("INC-2", H, 2 * H, POWER),
                 Covering("INC-3", 2 * H, 3 * H, UPSTREAM)]
    day, _ = day_from_samples(samples, 60.0, Spans(), coverings, None)
    assert (day.down_equipment, day.down_power, day.down_upstream) == (0.0, H, H)


def test_cli_prints_power_in_english_too(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """The JSON line has the new key last, after the existing ones (an interface)."""
    config = month.write_setup(tmp_path)
    assert main(["report", "coverage", "--config", str(config), "--month", month.MONTH,
                 "--out", str(tmp_path / "r"), "--lang", "en"]) == 0
    keys = list(json.loads(capsys.readouterr().err.strip().splitlines()[-1]))
    assert keys.index("outage_minutes_power") == keys.index("outage_minutes_unknown") + 1


def test_csv_columns_keep_their_order() -> None:
    """Issue 14's columns unchanged and in order; ``outage_minutes_power`` right after the
    other causes."""
    from dashboards.reports.csvout import AREA_COLUMNS, DISTRICT_COLUMNS, SITE_COLUMNS

    assert ",".join(SITE_COLUMNS) == (
        "site_id,name,village,kind,province_code,province_th,province_en,district_code,"
        "district_th,district_en,monitored_seconds,maintenance_seconds,up_seconds,"
        "availability_pct,outage_minutes_equipment,outage_minutes_upstream,"
        "outage_minutes_unknown,outage_minutes_power,incidents,mttr_minutes,never_seen")
    assert ",".join(AREA_COLUMNS) == (
        "code,name_th,name_en,sites,sites_seen,sites_below_sla,villages,villages_served,"
        "availability_pct,outage_minutes_equipment,outage_minutes_upstream,"
        "outage_minutes_unknown,outage_minutes_power")
    assert DISTRICT_COLUMNS == ("code", "province_code", *AREA_COLUMNS[1:])


def test_a_site_that_came_back_early_keeps_its_power_minutes(tmp_path: Path) -> None:
    """Alerting stores a power incident's members as they are at its last save: S5, back at
    15:00 while S6 stayed dark until 16:00, is no longer among them. Its recovery row in
    the history names the incident that covered it, so its hour is still the power cut's
    (without that row it would be unknown)."""
    config = month.write_setup(tmp_path)
    db_path = tmp_path / "pubnet.db"
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE incidents SET members = ? WHERE id = 'INC-5'", (json.dumps(
            ["site:S6", "device:gw-S6", "device:ap-S6-0"]),))
        conn.execute("UPDATE history_changes SET incident = 'INC-5' WHERE kind = 'site' "
                     "AND element = 'S5' AND at = ?", (month.at(22, 15),))
        conn.execute("DELETE FROM history_daily")
        conn.execute("DELETE FROM history_rollup_days")
    out = tmp_path / "early"
    assert run_report(config, out) == 0
    s5 = read_csv(out / "sites.csv")[1]["S5"]
    assert float(s5["outage_minutes_power"]) == 60.0
    assert float(s5["outage_minutes_unknown"]) == 2.0
