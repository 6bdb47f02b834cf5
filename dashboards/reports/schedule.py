"""The ``reports`` component: on the 1st of each month, last month's report, written and sent.

At ``reports.hour`` (Bangkok) on the 1st, pubnet writes the previous month's coverage report
into ``reports.out_dir/<YYYY-MM>/`` (the same folder ``pubnet report coverage`` writes) and
sends it through the configured e-mail channel: the PDF (or the HTML) and the CSVs
attached, or, with ``reports.link_base_url``, a link. A started pubnet that finds last
month's report missing (it was down on the 1st) writes it at once. A ``.sent`` file in the
folder records the delivery, so a restart never sends twice; a failed send is retried with
capped back-off. Report rendering runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from dashboards.reports.period import BANGKOK, Period, period_title, previous_month
from inventory.model import Inventory

log = logging.getLogger("pubnet.reports")

SENT_MARKER = ".sent"
RETRY_MIN = 60.0
RETRY_MAX = 3600.0
RETRY_FAILED = 3600.0
"""A report that could not be made is tried again this much later (not next month)."""


def due_at(now: float, hour: int) -> float:
    """When this month's run is due: the 1st at ``hour`` Bangkok."""
    local = datetime.fromtimestamp(now, BANGKOK)
    return datetime(local.year, local.month, 1, hour, tzinfo=BANGKOK).timestamp()


def next_due(now: float, hour: int) -> float:
    """The next 1st-of-the-month run after ``now``."""
    local = datetime.fromtimestamp(now, BANGKOK)
    first_next = (local.replace(day=1) + timedelta(days=32)).replace(day=1)
    return datetime(first_next.year, first_next.month, 1, hour, tzinfo=BANGKOK).timestamp()


def month_key(period: Period) -> str:
    return f"{period.start.astimezone(BANGKOK):%Y-%m}"


class MonthlyReports:
    """Writes and sends the monthly report; see the module docstring."""

    name = "reports"

    def __init__(self, config: Any, inventory: Inventory, inventory_path: Path | None, *,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], Any] = asyncio.sleep) -> None:
        self.config = config
        self.reports = config.reports
        self.inventory = inventory
        self.inventory_path = inventory_path
        self._clock = clock
        self._sleep = sleep
        self.sent: list[str] = []
        self.ready = asyncio.Event()

    async def run(self) -> None:
        """Work until cancelled."""
        self.ready.set()
        while True:
            now = self._clock()
            wait = next_due(now, self.reports.hour) - now
            if now >= due_at(now, self.reports.hour):
                if await self.catch_up(previous_month(now)) is None:
                    wait = min(wait, RETRY_FAILED)  # e.g. the disk was full: try again
            await self._sleep(max(1.0, wait))

    async def catch_up(self, period: Period) -> Path | None:
        """Write ``period``'s report unless it is there, and send it unless it was sent.
        Returns the folder, or None when the report could not be made (logged)."""
        from dashboards.reports.report import Options, ReportError
        from dashboards.reports.run import make_report

        folder = Path(self.reports.out_dir) / month_key(period)
        if not (folder / "coverage.html").is_file():
            options = Options(period, self.reports.lang, self.reports.sla)
            try:
                await asyncio.to_thread(make_report, self.config, self.inventory,
                                        self.inventory_path, options, folder,
                                        pdf=self.reports.pdf, now=self._clock())
            except ReportError as exc:
                log.error("monthly report failed",
                          extra={"month": month_key(period), "error": str(exc)})
                return None
            log.info("monthly report written",
                     extra={"month": month_key(period), "folder": str(folder)})
        if self.reports.channel is not None and not (folder / SENT_MARKER).exists():
            await self._send_with_retry(period, folder)
        return folder

    async def _send_with_retry(self, period: Period, folder: Path) -> None:
        delay = RETRY_MIN
        while True:
            try:
                await self.send(period, folder)
            except Exception as exc:  # an SMTP or network failure: retry later
                log.warning("monthly report not sent, will retry", extra={
                    "month": month_key(period), "channel": self.reports.channel,
                    "error": type(exc).__name__})
                await self._sleep(delay * random.uniform(0.8, 1.2))
                delay = min(RETRY_MAX, delay * 2)
                continue
            (folder / SENT_MARKER).write_text(
                f"{formatdate(self._clock(), usegmt=True)} {self.reports.channel}\n",
                encoding="utf-8")
            self.sent.append(month_key(period))
            log.info("monthly report sent",
                     extra={"month": month_key(period), "channel": self.reports.channel})
            return

    def message(self, period: Period, folder: Path) -> EmailMessage:
        channel = self.config.alerting.channels[self.reports.channel]
        lang = self.reports.lang
        title = period_title(period, lang)
        mail = EmailMessage()
        mail["From"] = channel.sender
        mail["To"] = ", ".join(channel.to)
        mail["Subject"] = (f"pubnet: รายงานความครอบคลุมและ SLA {title}" if lang == "th"
                           else f"pubnet: coverage and SLA report, {title}")
        mail["Date"] = formatdate(self._clock(), usegmt=True)
        mail["Message-ID"] = make_msgid(idstring=f"report.{month_key(period)}",
                                        domain="pubnet")
        base = self.reports.link_base_url
        if base:
            link = f"{base.rstrip('/')}/{month_key(period)}/coverage.html"
            body = (f"รายงาน{title}: {link}\n" if lang == "th"
                    else f"The report for {title}: {link}\n")
            mail.set_content(body, charset="utf-8")
            return mail
        body = (f"รายงานความครอบคลุมและระดับการให้บริการ{title} แนบมากับอีเมลนี้\n"
                if lang == "th" else f"The coverage and SLA report for {title} is attached.\n")
        mail.set_content(body, charset="utf-8")
        main = folder / ("coverage.pdf" if (folder / "coverage.pdf").is_file()
                         else "coverage.html")
        for path in (main, folder / "provinces.csv", folder / "districts.csv",
                     folder / "sites.csv"):
            kind = {"pdf": ("application", "pdf"), "html": ("text", "html"),
                    "csv": ("text", "csv")}[path.suffix[1:]]
            mail.add_attachment(path.read_bytes(), maintype=kind[0], subtype=kind[1],
                                filename=f"{month_key(period)}-{path.name}")
        return mail

    async def send(self, period: Period, folder: Path) -> None:
        import aiosmtplib

        channel = self.config.alerting.channels[self.reports.channel]
        smtp = channel.smtp
        mail = await asyncio.to_thread(self.message, period, folder)
        tls = None
        if smtp.starttls:
            import ssl

            tls = ssl.create_default_context(
                cafile=str(smtp.ca_file) if smtp.ca_file is not None else None)
        await aiosmtplib.send(
            mail, hostname=smtp.host, port=smtp.port, username=smtp.username,
            password=smtp.password.get_secret_value() if smtp.password else None,
            start_tls=smtp.starttls, use_tls=False, tls_context=tls, timeout=smtp.timeout)

