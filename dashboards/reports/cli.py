"""``pubnet report coverage``: the planners' monthly coverage and SLA report.

``register`` adds the command to the shell's parser; the handler returns an exit code: 0
written, 1 bad input (a period in the future or backwards, an unreachable Prometheus, an
empty history, an output folder that cannot be written: one clear line, and no output
folder), 2 usage.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from pubnet.argtypes import action_group
from pubnet.cliout import EXIT_BAD_INPUT, EXIT_OK


def register(commands: Any) -> None:
    """Add ``report coverage`` to the shell's subcommands."""
    actions = action_group(commands, "report", "coverage and SLA reports for planners")
    cov = actions.add_parser(
        "coverage", help="availability by province, district and site as CSV, HTML and PDF")
    cov.add_argument("--config", type=Path, required=True, metavar="FILE",
                     help="pubnet.yaml (inventory, database)")
    when = cov.add_mutually_exclusive_group(required=True)
    when.add_argument("--month", metavar="YYYY-MM", help="a calendar month, Bangkok time")
    when.add_argument("--from", dest="start", metavar="DATE",
                      help="first day (Bangkok) or ISO time with a zone; needs --to")
    when.add_argument("--fiscal-year", type=int, metavar="BE",
                      help="Thai government fiscal year (Buddhist era, e.g. 2569: "
                      "October 2025 to September 2026)")
    cov.add_argument("--to", dest="end", metavar="DATE",
                     help="end, exclusive (a day in Bangkok or an ISO time with a zone)")
    cov.add_argument("--out", type=Path, required=True, metavar="DIR",
                     help="folder to write (new, empty, or an earlier report to replace)")
    cov.add_argument("--lang", choices=["th", "en"], default="th")
    cov.add_argument("--pdf", action="store_true", help="also coverage.pdf (headless Chromium)")
    cov.add_argument("--sla", type=_percent, default=99.5, metavar="PCT",
                     help="availability target in percent (default 99.5)")
    cov.add_argument("--source", choices=["history", "prometheus"], default="history")
    cov.add_argument("--prometheus-url", metavar="URL",
                     help="a Prometheus-compatible query API (with --source prometheus)")
    cov.add_argument("--link-threshold", type=_percent, default=80.0, metavar="PCT",
                     help="list backbone links whose p95 utilisation exceeds this "
                     "(Prometheus source; default 80)")
    cov.add_argument("--inventory", type=Path, metavar="PATH",
                     help="inventory folder or YAML (default: the config's)")
    cov.set_defaults(handler=cmd_coverage)


def _percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value <= 100:
        raise argparse.ArgumentTypeError(f"{text} is not a percentage in (0, 100]")
    return value


def _fail(message: str) -> int:
    print(f"pubnet report coverage: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def cmd_coverage(args: argparse.Namespace) -> int:
    from dashboards.reports.period import (
        PeriodError,
        fiscal_year_period,
        month_period,
        range_period,
    )
    from dashboards.reports.report import Options, ReportError
    from dashboards.reports.run import make_report
    from inventory.loader import InventoryError, load_inventory
    from pubnet.config import ConfigError, load_config

    try:
        if args.month is not None:
            if args.end is not None:
                return _fail("--to goes with --from, not with --month")
            period = month_period(args.month)
        elif args.fiscal_year is not None:
            period = fiscal_year_period(args.fiscal_year)
        else:
            if args.end is None:
                return _fail("--from needs --to (exclusive)")
            period = range_period(args.start, args.end)
    except PeriodError as exc:
        return _fail(str(exc))
    if args.source == "prometheus" and not args.prometheus_url:
        return _fail("--source prometheus needs --prometheus-url URL")
    try:
        config = load_config(args.config, resolve=False)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    inventory_path = args.inventory or config.inventory
    if inventory_path is None:
        return _fail("no inventory (give --inventory or set inventory in the config)")
    try:
        inventory = load_inventory(inventory_path).inventory
    except InventoryError as exc:
        print(f"{exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    options = Options(period, args.lang, args.sla, args.source, args.prometheus_url,
                      args.link_threshold / 100.0)
    started = time.monotonic()
    try:
        report, written = make_report(config, inventory, Path(inventory_path), options,
                                      args.out, pdf=args.pdf, now=time.time())
    except ReportError as exc:
        return _fail(str(exc))
    for path in written:
        print(path)
    from dashboards.reports.report import summary_json

    print(json.dumps(summary_json(report, time.monotonic() - started), ensure_ascii=False),
          file=sys.stderr)
    return EXIT_OK
