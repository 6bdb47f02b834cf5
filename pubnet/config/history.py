"""The ``history:`` and ``reports:`` sections: the status history planners' reports read,
and the monthly report pubnet writes and sends by itself.

History is on by default (``history: null`` turns it off) and lives in the alerting
database (``alerting.database``, default ``pubnet.db``), beside incidents and maintenance
windows; ``history.database`` puts it elsewhere when alerting is off. The monthly report is
off until a ``reports:`` section asks for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from pubnet.config.types import Duration, PositiveDuration, RelPath, Section


class HistoryConfig(Section):
    retention: PositiveDuration = 400 * 86400.0
    """How long status changes and daily rollups are kept (default 400 days: a year and a
    month, so last year's same month is still there)."""
    flush_interval: PositiveDuration = 0.5
    """Changes are written in one transaction at most this often (off the event loop)."""
    heartbeat: PositiveDuration = 10.0
    """How often the running interval is extended: after a kill -9 at most this much
    watched time is counted as unmonitored."""
    rollup_after: Duration = 3600.0
    """A Bangkok day is rolled up this long after it ends (late incidents settle)."""
    database: RelPath | None = None
    """Default: ``alerting.database``."""


class ReportsConfig(Section):
    """On the 1st of each month (Bangkok) pubnet writes last month's coverage report into
    ``out_dir/<YYYY-MM>/`` and sends it through ``channel``."""

    out_dir: RelPath = Field(default=Path("reports"), validate_default=True)
    lang: Literal["th", "en"] = "th"
    pdf: bool = True
    sla: float = Field(default=99.5, gt=0, le=100)
    hour: int = Field(default=6, ge=0, le=23)
    """Local hour of the 1st at which the report is written."""
    channel: str | None = None
    """An e-mail channel of ``alerting.channels`` to send the report through."""
    link_base_url: str | None = None
    """When set, the message carries ``<link_base_url>/<YYYY-MM>/coverage.html`` instead of
    attaching the files (for large national reports)."""


def report_channel_problem(config: object) -> str | None:
    """What is wrong with ``reports.channel`` (it must name an e-mail channel of
    ``alerting.channels``), or None."""
    reports = getattr(config, "reports", None)
    if reports is None or reports.channel is None:
        return None
    alerting = getattr(config, "alerting", None)
    channels = {} if alerting is None else alerting.channels
    channel = channels.get(reports.channel)
    if channel is None:
        return f"reports.channel: no alerting channel named {reports.channel!r}"
    if getattr(channel, "type", None) != "email":
        return (f"reports.channel: {reports.channel!r} is a {channel.type} channel; reports "
                "are sent by e-mail")
    return None


def history_database(config: object) -> Path:
    """Where the history lives: ``history.database``, else ``alerting.database``, else
    ``pubnet.db`` beside the config file."""
    history = getattr(config, "history", None)
    if history is not None and history.database is not None:
        return Path(history.database)
    alerting = getattr(config, "alerting", None)
    if alerting is not None:
        return Path(alerting.database)
    source = getattr(config, "source", None)
    return (Path(source).parent if source is not None else Path(".")) / "pubnet.db"
