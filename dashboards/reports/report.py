"""One coverage report: gather the figures from a source, write the folder whole or not at all.

:func:`gather` turns a period, the inventory and a source (pubnet's history or a
Prometheus-compatible store) into a :class:`Report`; :func:`write` renders the CSVs, the
HTML and optionally the PDF into a temporary folder beside ``out`` and renames it into
place only when everything is written, so a planner never finds a half-written report.
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dashboards.reports.figures import (
    AreaFigures,
    SiteFigures,
    commissioned_sites,
    daily,
    districts,
    nation,
    provinces,
    site_figures,
)
from dashboards.reports.period import Period, PeriodError, check_not_future, days
from dashboards.reports.source_history import Loaded
from dashboards.reports.timeline import CAUSES, by_cause
from inventory.model import Inventory
from pubnet import __version__

OUTPUT_MARKER = "coverage.html"
"""A folder holding this file is a report pubnet may replace."""


class ReportError(Exception):
    """The report cannot be made; the message says why (printed, exit 1)."""


@dataclass(frozen=True, slots=True)
class Options:
    period: Period
    lang: str = "th"
    sla: float = 99.5
    source: str = "history"
    prometheus_url: str | None = None
    link_threshold: float = 0.8
    """p95 utilisation above which a backbone link is listed (Prometheus source)."""


@dataclass(frozen=True, slots=True)
class LinkUse:
    link_id: str
    direction: str
    p95: float


@dataclass(frozen=True, slots=True)
class Target:
    province_code: str
    planned_sites: int
    planned_villages: int


@dataclass(slots=True)
class Report:
    options: Options
    inventory: Inventory
    sites: list[SiteFigures]
    districts: list[AreaFigures]
    provinces: list[AreaFigures]
    nation: AreaFigures
    daily: list[tuple[str, float | None]]
    generated_at: float
    database: str
    version: str = __version__
    targets: dict[str, Target] | None = None
    links: list[LinkUse] | None = None
    notes: list[str] = field(default_factory=list)


def figures_from(loaded: Loaded, inventory: Inventory, options: Options, now: float,
                 database: str) -> Report:
    period = options.period
    past = max(0.0, min(period.end_ts, now) - period.start_ts)  # a period not yet over
    rows = site_figures(inventory.sites.values(), loaded.totals, past, period.start_ts,
                        commissioned_sites(loaded.first_seen, period.start_ts))
    return Report(
        options, inventory, rows, districts(rows, options.sla), provinces(rows, options.sla),
        nation(rows, options.sla),
        daily([d.day for d in loaded.days], loaded.daily_up, loaded.daily_base), now, database)


def gather_history(database: Path, inventory: Inventory, options: Options, now: float,
                   heartbeat: float) -> Report:
    """The report from pubnet's own history. Raises :class:`ReportError`."""
    import sqlite3

    from dashboards.reports.history import HistoryDB
    from dashboards.reports.source_history import load

    period = options.period
    _check_period(period, now)
    if not database.is_file():
        raise ReportError(f"{database}: no pubnet database (is pubnet run writing its history "
                          "there? see history: and alerting.database in the config)")
    try:
        with HistoryDB(database, readonly=True) as db:
            if not db.has_history():
                raise ReportError(f"{database}: no status history recorded (the history "
                                  "component has never run against this database)")
            end = min(period.end_ts, now)
            if not db.runs(period.start_ts, end, now, heartbeat) and not db.rollup_days(
                    [d.day for d in days(period.start_ts, end)]):
                raise ReportError(f"{database}: the history is empty for this period: pubnet "
                                  "was not running (no running interval recorded)")
            loaded = load(db, inventory, period.start_ts, end, now, heartbeat)
    except sqlite3.Error as exc:
        raise ReportError(f"{database}: {exc}") from None
    report = figures_from(loaded, inventory, options, now, str(database))
    report.notes.append(f"rollup_days={loaded.rollup_days}")
    return report


def _check_period(period: Period, now: float) -> None:
    try:
        check_not_future(period, now)
    except PeriodError as exc:
        raise ReportError(str(exc)) from None


def read_targets(folder: Path | None) -> dict[str, Target] | None:
    """``targets.csv`` (``province_code,planned_sites,planned_villages``) from the inventory
    folder, or None when there is none. Raises :class:`ReportError` naming file:line."""
    if folder is None:
        return None
    path = (folder if folder.is_dir() else folder.parent) / "targets.csv"
    if not path.is_file():
        return None
    found: dict[str, Target] = {}
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            wanted = {"province_code", "planned_sites", "planned_villages"}
            if reader.fieldnames is None or not wanted <= set(reader.fieldnames):
                raise ReportError(f"{path}:1: header must be "
                                  "province_code,planned_sites,planned_villages")
            for line, record in enumerate(reader, start=2):
                try:
                    code = (record["province_code"] or "").strip()
                    if not code:
                        raise ValueError("province_code is empty")
                    found[code] = Target(code, int(record["planned_sites"] or ""),
                                         int(record["planned_villages"] or ""))
                except (TypeError, ValueError) as exc:
                    raise ReportError(f"{path}:{line}: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: {exc}") from None
    return found


def write(report: Report, out: Path, *, pdf: bool = False) -> list[Path]:
    """Render into a temporary sibling of ``out`` and move it into place. Raises
    :class:`ReportError` (nothing of the new report is left behind)."""
    from dashboards.reports.csvout import write_csvs
    from dashboards.reports.html import render_html

    out = out.absolute()
    if out.exists() and not out.is_dir():
        raise ReportError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / OUTPUT_MARKER).is_file():
        raise ReportError(f"{out}: folder is not empty and holds no earlier report; give a "
                          "new or empty folder")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as exc:
        raise ReportError(f"{out}: {exc.strerror or exc}") from None
    try:
        names = [p.name for p in write_csvs(staging, report.sites, report.districts,
                                            report.provinces)]
        html = staging / "coverage.html"
        html.write_text(render_html(report), encoding="utf-8")
        names.append(html.name)
        if pdf:
            from dashboards.reports.pdf import PdfError, html_to_pdf

            try:
                html_to_pdf(html, staging / "coverage.pdf")
            except PdfError as exc:
                raise ReportError(str(exc)) from None
            names.append("coverage.pdf")
        for name in names:
            _fsync(staging / name)
        os.chmod(staging, 0o755)
        _replace(staging, out)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ReportError(f"{out}: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [out / name for name in names]


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace(staging: Path, out: Path) -> None:
    """``staging`` becomes ``out``; an earlier report there is replaced."""
    if not out.exists():
        os.rename(staging, out)
        return
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    os.rename(out, old)
    try:
        os.rename(staging, out)
    except OSError:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def summary_json(report: Report, seconds: float | None = None) -> dict[str, object]:
    """Headline figures (the CLI's and the benchmark's last line)."""
    n = report.nation
    found: dict[str, object] = {
        "sites": n.sites, "sites_seen": n.sites_seen, "sites_below_sla": n.sites_below_sla,
        "villages": n.villages, "villages_served": n.villages_served,
        "availability_pct": None if n.availability is None else round(n.availability, 4),
    }
    for cause, seconds in zip(CAUSES, by_cause(n), strict=True):
        found[f"outage_minutes_{cause}"] = round(seconds / 60, 1)
    if seconds is not None:
        found["seconds"] = round(seconds, 2)
    return found


def provinces_sorted(report: Report) -> Sequence[AreaFigures]:
    """Provinces by availability, highest first; provinces without data last."""
    return sorted(report.provinces, key=lambda a: (a.availability is None,
                                                   -(a.availability or 0.0), a.code))
