"""The monthly schedule: on the 1st, last month's report is written and e-mailed once."""

from __future__ import annotations

import email
import email.message
import email.policy
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from dashboards.reports.schedule import SENT_MARKER, MonthlyReports, due_at, next_due
from inventory.loader import load_inventory
from pubnet.config import ConfigError, load_config
from testbed.smtp import serve_smtp
from tests.alerting.servers import MailSink
from tests.reports import month
from tests.support import free_port


def test_due_times_are_the_first_of_the_month_in_bangkok() -> None:
    assert due_at(month.at(15, 3), 6) == month.at(1, 6)
    assert next_due(month.at(15, 3), 6) == month.at(1, 6, month=12)
    # 30 Nov 23:00 Bangkok is already 1 Dec in some zones, not in Bangkok's
    assert next_due(month.at(30, 23), 6) == month.at(1, 6, month=12)


@pytest.fixture
def smtp() -> Iterator[tuple[int, MailSink]]:
    sink = MailSink()
    port = free_port()
    with serve_smtp(sink, port):
        yield port, sink


def _config(tmp_path: Path, port: int) -> Path:
    path = month.write_setup(tmp_path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["alerting"]["channels"] = {"planners": {
        "type": "email", "to": ["planning@example.org"], "from": "pubnet@example.org",
        "smtp": {"host": "127.0.0.1", "port": port, "starttls": False}}}
    data["reports"] = {"out_dir": "reports", "channel": "planners", "pdf": False}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


async def test_first_of_the_month_writes_and_sends_once(
        tmp_path: Path, smtp: tuple[int, MailSink]) -> None:
    port, sink = smtp
    config = load_config(_config(tmp_path, port))
    inventory = load_inventory(tmp_path / "inventory").inventory
    now = month.at(1, 6, 5, month=12)
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        raise StopAsyncIteration  # the test stops the loop at its first wait

    scheduler = MonthlyReports(config, inventory, tmp_path / "inventory", clock=lambda: now,
                               sleep=sleep)
    with pytest.raises(StopAsyncIteration):
        await scheduler.run()
    folder = tmp_path / "reports" / "2026-11"
    assert (folder / "coverage.html").is_file() and (folder / SENT_MARKER).is_file()
    assert len(sink.messages) == 1
    mail = email.message_from_bytes(sink.messages[0]["content"], policy=email.policy.default)
    assert isinstance(mail, email.message.EmailMessage)
    assert "ประจำเดือนพฤศจิกายน พ.ศ. 2569" in str(mail["Subject"])
    names = [part.get_filename() for part in mail.iter_attachments()]
    assert names == ["2026-11-coverage.html", "2026-11-provinces.csv",
                     "2026-11-districts.csv", "2026-11-sites.csv"]
    assert sleeps == [next_due(now, 6) - now]  # then sleeps until 1 January
    # restarted the same day: nothing rewritten, nothing sent again
    again = MonthlyReports(config, inventory, tmp_path / "inventory", clock=lambda: now,
                           sleep=sleep)
    with pytest.raises(StopAsyncIteration):
        await again.run()
    assert len(sink.messages) == 1


def test_reports_channel_must_be_an_email_channel(tmp_path: Path) -> None:
    path = _config(tmp_path, 25)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["reports"]["channel"] = "nobody"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"reports\.channel: no alerting channel named"):
        load_config(path)
