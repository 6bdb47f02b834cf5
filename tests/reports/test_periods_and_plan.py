"""A period not yet over, and progress against plan.

The synthetic November (``tests/reports/month.py``) read as the Thai fiscal year 2570
(1 Oct 2026 – 1 Oct 2027) on 5 Dec 2026 at noon: a year mostly in the future, and pubnet
first ran on 31 Oct. Completeness must count only the time already past, and the sites
pubnet found when it first ran were not "commissioned during the period": October is
missing data (low completeness), not a reason to prorate. Hand-computed below.
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import pytest

from dashboards.reports.figures import AreaFigures, SiteFigures
from dashboards.reports.period import BANGKOK, fiscal_year_period
from dashboards.reports.report import Options, ReportError
from dashboards.reports.run import make_report
from pubnet.cli import main
from pubnet.config import load_config
from tests.reports import month

NOW = month.at(5, 12, month=12)
"""5 Dec 2026 12:00 Bangkok."""
FY_START = datetime(2026, 10, 1, tzinfo=BANGKOK).timestamp()


def _fiscal_year_report(tmp_path: Path) -> tuple[dict[str, SiteFigures], AreaFigures]:
    config_path = month.write_setup(tmp_path)
    config = load_config(config_path, resolve=False)
    options = Options(fiscal_year_period(2570), "th", month.SLA, "history", None, 0.8)
    report, _ = make_report(config, month.inventory(), tmp_path / "inventory", options,
                            tmp_path / "fy", pdf=False, now=NOW)
    return {r.site.site_id: r for r in report.sites}, report.nation


def test_fiscal_year_to_date(tmp_path: Path) -> None:
    rows, nation = _fiscal_year_report(tmp_path)
    extra = 4 * 3600 + 2 * 3600  # 31 Oct 20:00-24:00 and 1 Dec 00:00-02:00, both up
    s1 = rows["S1"]
    assert s1.time.monitored == month.M + extra
    assert s1.availability == pytest.approx(
        100 * (month.M + extra - 7200 - 4 * 3600) / (month.M + extra - 7200), abs=0.005)
    # Was there when pubnet first ran: not commissioned; expected = 1 Oct .. now.
    assert s1.commissioned is None
    past = NOW - FY_START
    assert past == 65.5 * 86400
    assert s1.expected == past
    assert s1.completeness is not None
    assert 100 * s1.completeness == pytest.approx(
        100 * (month.M + extra) / past, abs=0.005)  # 45.42 %
    # S5 appeared on 16 Nov while pubnet was watching: commissioned, prorated from then.
    s5 = rows["S5"]
    assert s5.commissioned == month.at(16)
    assert s5.expected == NOW - month.at(16)
    assert s5.completeness is not None
    assert 100 * s5.completeness == pytest.approx(
        100 * (15 * 86400 - month.GAP + 2 * 3600) / (19.5 * 86400), abs=0.005)  # 74.79 %
    # Never seen: expected the whole time past, nothing monitored.
    assert rows["S4"].expected == past
    assert nation.expected == 5 * past + (NOW - month.at(16))


def _write_targets(folder: Path, lines: list[str]) -> None:
    (folder / "inventory" / "targets.csv").write_text(
        "\ufeffprovince_code,planned_sites,planned_villages\n" + "".join(
            f"{line}\n" for line in lines), encoding="utf-8")


def test_progress_against_plan(tmp_path: Path) -> None:
    config = month.write_setup(tmp_path)
    _write_targets(tmp_path, ["50,4,4", "40,5,5", "10,2,2"])
    out = tmp_path / "out"
    assert main(["report", "coverage", "--config", str(config), "--month", month.MONTH,
                 "--out", str(out), "--sla", str(month.SLA)]) == 0
    html = (out / "coverage.html").read_text(encoding="utf-8")
    plan = html[html.index('<section id="plan">'):]
    plan = plan[:plan.index("</section>")]
    with (out / "provinces.csv").open(encoding="utf-8-sig") as handle:
        served = {r["code"]: r["villages_served"] for r in csv.DictReader(handle)}
    assert served == {"50": "2", "40": "1"}
    # province: planned sites, installed, %, planned villages, served, %
    for code, cells in (("50", ["4", "3", "75.0 %", "4", "2", "50.0 %"]),
                        ("40", ["5", "3", "60.0 %", "5", "1", "20.0 %"]),
                        ("10", ["2", "0", "0.0 %", "2", "0", "0.0 %"])):
        row = plan[plan.index(f'<tr data-code="{code}">'):]
        row = row[:row.index("</tr>")]
        numbers = [c.split(">", 1)[1] for c in row.split("</td>")[1:-1]]
        assert numbers == cells, code
    assert "เชียงใหม่" in plan


def test_bad_targets_name_the_line(tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    config = month.write_setup(tmp_path)
    _write_targets(tmp_path, ["50,4,4", "40,many,5"])
    out = tmp_path / "out"
    assert main(["report", "coverage", "--config", str(config), "--month", month.MONTH,
                 "--out", str(out)]) == 1
    assert "targets.csv:3:" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(ReportError, match=r"targets\.csv:1: header"):
        from dashboards.reports.report import read_targets

        (tmp_path / "inventory" / "targets.csv").write_text("code,sites\n", encoding="utf-8")
        read_targets(tmp_path / "inventory")
