"""Making one report end to end, for the command line, the monthly schedule and the
benchmark: source → figures → folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dashboards.reports.report import Options, Report, gather_history, read_targets, write
from inventory.model import Inventory


def make_report(config: Any, inventory: Inventory, inventory_path: Path | None,
                options: Options, out: Path, *, pdf: bool, now: float) -> (
    tuple[Report, list[Path]]
):
    """Gather and write a report. Raises :class:`~dashboards.reports.report.ReportError`."""
    from pubnet.config.history import HistoryConfig, history_database

    database = history_database(config)
    heartbeat = (config.history or HistoryConfig()).heartbeat
    targets = read_targets(inventory_path)
    if options.source == "prometheus":
        from dashboards.reports.source_prometheus import gather_prometheus

        report = gather_prometheus(database, inventory, options, now)
    else:
        report = gather_history(database, inventory, options, now, heartbeat)
    report.targets = targets
    return report, write(report, out, pdf=pdf)
