"""The monthly coverage report on a national history: 25,000 sites, 31 days, ~1M changes.

Builds a generated inventory (``inventory generate``, 25,000 sites by default), then a
history of October 2026 in a fresh ``pubnet.db`` written through the recorder's own
writer (:class:`dashboards.reports.history.HistoryDB`): pubnet running all month but for a
30-minute restart, ~500,000 site outages (1M site status changes, and the 1M gateway
changes behind them) of a few minutes to a few hours, district-wide outages covered by
upstream incidents, site outages covered by equipment incidents, maintenance windows.

Then times ``pubnet report coverage`` as a planner runs it, in a child process (wall time
and the child's peak RSS):

1. HTML + CSVs, from the raw changes (no rollups: the worst case, e.g. the daemon was
   off at every midnight);
2. HTML + CSVs after the daily rollups are built (as the recorder does after each day);
3. the same with ``--pdf``.

Targets (issue 14): (1)/(2) ≤ 20 s and ≤ 1 GB RSS; (3) ≤ 60 s.

Usage: ``python bench/report.py [--sites 25000] [--outages 500000] [--seed 1]
[--no-pdf] [--keep DIR]``. The last line is one JSON object with the headline figures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from alerting.db import IncidentDB, IncidentFacts
from alerting.model import Incident, Kind, Severity, State
from dashboards.reports.history import ChangeRow, HistoryDB
from dashboards.reports.period import days, month_period
from dashboards.reports.source_history import rollup
from inventory.generate import generate
from inventory.model import Inventory, Role
from inventory.writer import write_inventory

MONTH = "2026-10"


def build_history(inv: Inventory, db_path: Path, outages: int, seed: int) -> dict[str, int]:
    """Write a month of history; returns counts."""
    rng = random.Random(seed)
    period = month_period(MONTH)
    start, end = period.start_ts, period.end_ts
    gap = (start + 14.5 * 86400, start + 14.5 * 86400 + 1800)  # a 30-minute restart
    sites = list(inv.sites)
    gateway = {d.site_id: d.device_id for d in inv.devices.values()
               if d.role is Role.SITE_GATEWAY}
    by_district: dict[str, list[str]] = {}
    for s in inv.sites.values():
        by_district.setdefault(s.district_code, []).append(s.site_id)
    aggregation = {inv.sites[d.site_id].district_code: d.device_id
                   for d in inv.devices.values()
                   if d.role is Role.DISTRICT_AGGREGATION and d.site_id in inv.sites}
    spans: dict[str, list[tuple[float, float]]] = {s: [] for s in sites}
    incidents: list[tuple[str, str, set[str], float, float]] = []
    # district-wide outages (upstream): ~10 % of the outage count, whole districts
    districts = sorted(by_district)
    district_events = max(1, outages // 10 // max(1, len(sites) // len(districts)))
    for n in range(district_events):
        code = rng.choice(districts)
        t0 = rng.uniform(start, end - 7200)
        t1 = t0 + rng.uniform(600, 7200)
        members = {f"device:{gateway[s]}" for s in by_district[code] if s in gateway}
        root = aggregation.get(code, "")
        if root:
            members.add(f"device:{root}")
        incidents.append((f"INC-U{n}", f"device:{root}", members, t0 + 120, t1))
        for s in by_district[code]:
            spans[s].append((t0, t1))
    # site outages: log-normal durations around 20 minutes
    remaining = outages - sum(len(v) for v in spans.values())
    for n in range(max(0, remaining)):
        s = sites[rng.randrange(len(sites))]
        t0 = rng.uniform(start, end - 60)
        t1 = min(end + 3600, t0 + max(60.0, rng.lognormvariate(math.log(1200), 1.1)))
        spans[s].append((t0, t1))
        if rng.random() < 0.35 and s in gateway:
            incidents.append((f"INC-E{n}", f"device:{gateway[s]}", {f"device:{gateway[s]}"},
                              t0 + 90, t1))
    site_rows: list[ChangeRow] = []
    device_rows: list[ChangeRow] = []
    for s, outs in spans.items():
        outs.sort()
        merged: list[list[float]] = []
        for t0, t1 in outs:
            if merged and t0 <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], t1)
            else:
                merged.append([t0, t1])
        gw = gateway.get(s, s)
        for t0, t1 in merged:
            site_rows.append(ChangeRow("site", s, "up", "down", t0))
            site_rows.append(ChangeRow("site", s, "down", "up", t1))
            device_rows.append(ChangeRow("device", gw, "ok", "timeout", t0))
            device_rows.append(ChangeRow("device", gw, "timeout", "ok", t1))
    with IncidentDB(db_path) as alerting:
        batch = []
        for inc_id, root, members, t0, t1 in incidents:
            batch.append((Incident(inc_id, Kind.DEVICE_DOWN, Severity.MINOR, root, t0, t0,
                                   State.RESOLVED, frozenset(members), resolved_at=t1,
                                   resolved_sent=True), IncidentFacts()))
            if len(batch) >= 20_000:
                alerting.save(batch, [], [], t1)
                batch = []
        alerting.save(batch, [], [], end)
        for n in range(200):
            d = rng.choice(districts)
            t0 = rng.uniform(start, end - 14400)
            scope = f"district:{d}" if n % 4 == 0 else f"site:{rng.choice(by_district[d])}"
            alerting.add_maintenance(scope, t0, t0 + rng.uniform(1800, 14400), "bench",
                                     "bench", t0 - 86400)
    rows = sorted(site_rows + device_rows, key=lambda r: r.at)
    with HistoryDB(db_path) as db:
        runs = ((start - 3600, gap[0]), (gap[1], end + 7200))
        for run_start, run_end in runs:
            run_id = db.start_run(run_start, "bench")
            first = [ChangeRow("site", s, "unknown", "up", run_start) for s in sites]
            first += [ChangeRow("device", g, "unknown", "ok", run_start)
                      for g in gateway.values()]
            db.write(first, run_id, run_start)
            chunk: list[ChangeRow] = []
            for row in rows:
                if run_start <= row.at < run_end:
                    chunk.append(row)
                    if len(chunk) >= 100_000:
                        db.write(chunk, run_id, row.at)
                        chunk = []
            db.write(chunk, run_id, run_end)
            db.stop_run(run_id, run_end)
    return {"site_changes": len(site_rows), "device_changes": len(device_rows),
            "incidents": len(incidents)}


def run_report(config: Path, out: Path, *extra: str) -> (
    tuple[float, float, float, dict[str, object]]
):
    """Wall seconds, CPU seconds of the Python process, peak RSS (MB) and the summary of one
    ``pubnet report coverage``."""
    args = [sys.executable, "-c",
            # VmHWM, not ru_maxrss: the latter keeps the parent's peak across fork and exec
            "import resource, sys, json; from pubnet.cli import main; code = main(sys.argv[1:]);"
            " u = resource.getrusage(resource.RUSAGE_SELF); hwm = [int(l.split()[1]) for l in"
            " open('/proc/self/status') if l.startswith('VmHWM:')][0]; print(json.dumps("
            "{'rss_kb': hwm, 'cpu_s': u.ru_utime + u.ru_stime}), file=sys.stderr);"
            " sys.exit(code)",
            "report", "coverage", "--config", str(config), "--month", MONTH, "--out", str(out),
            *extra]
    started = time.monotonic()
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"report failed:\n{done.stderr[-3000:]}")
    lines = [line for line in done.stderr.splitlines() if line.startswith("{")]
    summary = json.loads(lines[-2])
    usage = json.loads(lines[-1])
    return seconds, float(usage["cpu_s"]), usage["rss_kb"] / 1024, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sites", type=int, default=25_000)
    parser.add_argument("--outages", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-pdf", action="store_true")
    parser.add_argument("--keep", type=Path, help="keep the work folder here")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="pubnet-bench-report-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.monotonic()
        inv = generate(sites=args.sites, seed=args.seed)
        write_inventory(inv, work / "inventory")
        db_path = work / "pubnet.db"
        if db_path.exists():
            db_path.unlink()
        counts = build_history(inv, db_path, args.outages, args.seed)
        setup = time.monotonic() - t0
        print(f"history: {args.sites} sites, {counts['site_changes']:,} site and "
              f"{counts['device_changes']:,} device changes, {counts['incidents']:,} "
              f"incidents, {db_path.stat().st_size / 2**20:.0f} MiB, built in {setup:.1f}s")
        config = work / "pubnet.yaml"
        config.write_text(yaml.safe_dump({"inventory": "inventory",
                                          "alerting": {"database": "pubnet.db"}}),
                          encoding="utf-8")
        raw_s, raw_cpu, raw_rss, summary = run_report(config, work / "raw")
        print(f"report from changes (HTML+CSV): {raw_s:.1f}s ({raw_cpu:.1f}s CPU), "
              f"peak RSS {raw_rss:.0f} MB")
        t1 = time.monotonic()
        period = month_period(MONTH)
        with HistoryDB(db_path) as db:
            for day in days(period.start_ts, period.end_ts):
                rollup(db, inv, day, time.time(), 10.0)
        rollup_s = time.monotonic() - t1
        print(f"daily rollups built: 31 days in {rollup_s:.1f}s "
              f"({rollup_s / 31:.2f}s a day, as the recorder does once a day)")
        roll_s, roll_cpu, roll_rss, rolled = run_report(config, work / "rolled")
        print(f"report from rollups (HTML+CSV): {roll_s:.1f}s ({roll_cpu:.1f}s CPU), "
              f"peak RSS {roll_rss:.0f} MB")
        summary.pop("seconds", None)
        rolled.pop("seconds", None)
        if rolled != summary:
            raise SystemExit(f"rollups changed the figures: {summary} != {rolled}")
        html_mb = (work / "rolled" / "coverage.html").stat().st_size / 2**20
        result: dict[str, object] = {
            "sites": args.sites, "site_changes": counts["site_changes"],
            "device_changes": counts["device_changes"],
            "report_from_changes_s": round(raw_s, 2), "report_from_changes_cpu_s":
            round(raw_cpu, 2), "report_from_changes_rss_mb": round(raw_rss),
            "report_from_rollups_s": round(roll_s, 2), "report_from_rollups_cpu_s":
            round(roll_cpu, 2),
            "report_from_rollups_rss_mb": round(roll_rss), "rollup_day_s":
            round(rollup_s / 31, 2), "html_mb": round(html_mb, 2)}
        if not args.no_pdf:
            pdf_s, _, pdf_rss, _ = run_report(config, work / "pdf", "--pdf")
            pdf_mb = (work / "pdf" / "coverage.pdf").stat().st_size / 2**20
            print(f"report with --pdf: {pdf_s:.1f}s, peak RSS {pdf_rss:.0f} MB (Python; "
                  f"Chromium is a separate process), PDF {pdf_mb:.1f} MiB")
            result["report_pdf_s"] = round(pdf_s, 2)
            result["pdf_mb"] = round(pdf_mb, 2)
        result.update(summary)
        result["load_average_1m"] = round(os.getloadavg()[0], 2)
        print(json.dumps(result, ensure_ascii=False))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
