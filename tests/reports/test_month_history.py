"""The synthetic November (tests/reports/month.py) through ``pubnet report coverage``:
every figure of sites.csv, districts.csv and provinces.csv equals the hand-computed value."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from dashboards.reports.csvout import AREA_COLUMNS, DISTRICT_COLUMNS, SITE_COLUMNS
from pubnet.cli import main
from tests.reports import month


def read_csv(path: Path) -> tuple[list[str], dict[str, dict[str, str]]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), f"{path.name} has no UTF-8 BOM"
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    header = raw.decode("utf-8-sig").splitlines()[0].split(",")
    key = "site_id" if "site_id" in header else "code"
    return header, {r[key]: r for r in rows}


def close(text: str, value: float, tolerance: float = 0.01) -> bool:
    return abs(float(text) - value) <= tolerance


def check_sites(sites: dict[str, dict[str, str]], tolerance: float = 0.01) -> None:
    for site_id, e in month.EXPECTED.items():
        row = sites[site_id]
        assert row["never_seen"] == "0", site_id
        assert close(row["monitored_seconds"], e.monitored, 1), (site_id, row)
        assert close(row["maintenance_seconds"], e.maintenance, 1), (site_id, row)
        assert close(row["up_seconds"], e.up, 1), (site_id, row)
        assert close(row["availability_pct"], e.availability, tolerance), (site_id, row)
        assert close(row["outage_minutes_equipment"], e.equipment_min, 0.05), (site_id, row)
        assert close(row["outage_minutes_upstream"], e.upstream_min, 0.05), (site_id, row)
        assert close(row["outage_minutes_unknown"], e.unknown_min, 0.05), (site_id, row)
        assert close(row["outage_minutes_power"], e.power_min, 0.05), (site_id, row)
        assert int(row["incidents"]) == e.incidents, (site_id, row)
        if e.mttr is None:
            assert row["mttr_minutes"] == "", site_id
        else:
            assert close(row["mttr_minutes"], e.mttr, 0.05), (site_id, row)
    never = sites["S4"]
    assert never["never_seen"] == "1"
    assert never["availability_pct"] == "" and never["monitored_seconds"] == "0"
    assert sites["S1"]["name"] == "ศูนย์ดิจิทัลชุมชนบ้านหนึ่ง"
    assert sites["S1"]["province_th"] == "เชียงใหม่"
    assert sites["S1"]["district_en"] == "Mueang Chiang Mai"


def check_area(code: str, row: dict[str, str],
               figures: tuple[int, int, int, int, int, float, float, float, float, float],
               tolerance: float) -> None:
    """One province or district row against its hand-computed figures."""
    n, seen, below, villages, served, avail, eq, up, unk, power = figures
    assert (int(row["sites"]), int(row["sites_seen"]), int(row["sites_below_sla"]),
            int(row["villages"]), int(row["villages_served"])) == (
        n, seen, below, villages, served), (code, row)
    assert close(row["availability_pct"], avail, tolerance), (code, row)
    assert close(row["outage_minutes_equipment"], eq, 0.05), (code, row)
    assert close(row["outage_minutes_upstream"], up, 0.05), (code, row)
    assert close(row["outage_minutes_unknown"], unk, 0.05), (code, row)
    assert close(row["outage_minutes_power"], power, 0.05), (code, row)


def check_areas(provinces: dict[str, dict[str, str]], districts: dict[str, dict[str, str]],
                tolerance: float = 0.01) -> None:
    for code, figures in month.PROVINCES.items():
        check_area(code, provinces[code], figures, tolerance)
    for code, (province, *_) in month.DISTRICTS.items():
        row = districts[code]
        assert row["province_code"] == province
        check_area(code, row, month.DISTRICTS[code][1:], tolerance)


@pytest.fixture
def setup(tmp_path: Path) -> Path:
    return month.write_setup(tmp_path)


def run_report(config: Path, out: Path, *extra: str) -> int:
    return main(["report", "coverage", "--config", str(config), "--month", month.MONTH,
                 "--out", str(out), "--sla", str(month.SLA), *extra])


def test_every_figure_equals_the_hand_computed_value(setup: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    assert run_report(setup, out) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "coverage.html", "districts.csv", "provinces.csv", "sites.csv"]
    header, sites = read_csv(out / "sites.csv")
    assert tuple(header) == SITE_COLUMNS
    check_sites(sites)
    header, provinces = read_csv(out / "provinces.csv")
    assert tuple(header) == AREA_COLUMNS
    header, districts = read_csv(out / "districts.csv")
    assert tuple(header) == DISTRICT_COLUMNS
    check_areas(provinces, districts)


def test_rollups_give_the_same_figures(setup: Path, tmp_path: Path) -> None:
    """Every day rolled up (as the recorder does after midnight): the same CSVs, read from
    the rollups; a maintenance window added afterwards makes its day be recomputed."""
    from dashboards.reports.history import HistoryDB
    from dashboards.reports.period import days
    from dashboards.reports.source_history import load, rollup

    inv = month.inventory()
    db_path = tmp_path / "pubnet.db"
    now = month.at(3, 12, month=12)
    with HistoryDB(db_path) as db:
        for day in days(month.at(1), month.at(1, month=12)):
            rollup(db, inv, day, now, 10.0)
        assert load(db, inv, month.at(1), month.at(1, month=12), now, 10.0).rollup_days == 30
    first = tmp_path / "first"
    assert run_report(setup, first) == 0
    raw = (tmp_path / "raw").mkdir() or tmp_path / "raw"
    assert (first / "sites.csv").read_bytes() == _without_rollups(setup, tmp_path, raw)

    from alerting.db import IncidentDB

    with IncidentDB(db_path) as alerting:  # S6's outage day becomes maintenance afterwards
        alerting.add_maintenance("site:S6", month.at(8), month.at(9), "late entry", "noc", now)
    with HistoryDB(db_path) as db:
        assert load(db, inv, month.at(1), month.at(1, month=12), now, 10.0).rollup_days == 29
    again = tmp_path / "again"
    assert run_report(setup, again) == 0
    _, sites = read_csv(again / "sites.csv")
    # its only down time left is the power cut's 120 minutes on 22 Nov
    s6 = 100 * (1 - 120 * 60 / (month.M - 86400))
    assert sites["S6"]["availability_pct"] == f"{s6:.2f}" == "99.71"
    assert sites["S6"]["maintenance_seconds"] == "86400"


def _without_rollups(config: Path, tmp_path: Path, out_parent: Path) -> bytes:
    import shutil
    import sqlite3

    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copytree(tmp_path / "inventory", copy / "inventory")
    shutil.copy(config, copy / "pubnet.yaml")
    with sqlite3.connect(tmp_path / "pubnet.db") as src, \
            sqlite3.connect(copy / "pubnet.db") as dst:
        src.backup(dst)
        dst.execute("DELETE FROM history_rollup_days")
    assert run_report(copy / "pubnet.yaml", out_parent / "r") == 0
    return (out_parent / "r" / "sites.csv").read_bytes()


def test_english_and_csv_html_agree(setup: Path, tmp_path: Path) -> None:
    out = tmp_path / "en"
    assert run_report(setup, out, "--lang", "en") == 0
    html = (out / "coverage.html").read_text(encoding="utf-8")
    assert "November 2026" in html and "พ.ศ." not in html
    _, provinces = read_csv(out / "provinces.csv")
    for code, row in provinces.items():
        assert f'data-code="{code}" data-availability="{row["availability_pct"]}"' in html
    _, sites = read_csv(out / "sites.csv")
    assert f'data-site="S6" data-availability="{sites["S6"]["availability_pct"]}"' in html
