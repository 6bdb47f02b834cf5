"""``pubnet maintenance import --ics``: windows from a change calendar or the electricity
authority's planned-outage feed, one per event UID however often it is imported."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from alerting.db import IncidentDB
from alerting.ical import scope_from_text
from alerting.messages import BANGKOK
from inventory.writer import write_inventory
from pubnet.cli import main
from tests.alerting.builders import district_inventory
from tests.support import free_port

SOON = datetime.now(BANGKOK).replace(microsecond=0, second=0) + timedelta(days=2)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S")


def feed(*events: str) -> bytes:
    body = "".join(events)
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//PEA//Planned outages//TH\r\n"
            f"{body}END:VCALENDAR\r\n").encode()


def event(uid: str, summary: str, location: str, start: datetime, hours: float,
          status: str = "CONFIRMED") -> str:
    end = start + timedelta(hours=hours)
    return ("BEGIN:VEVENT\r\n"
            f"UID:{uid}\r\nDTSTAMP:20261201T000000Z\r\n"
            f"DTSTART;TZID=Asia/Bangkok:{stamp(start)}\r\n"
            f"DTEND;TZID=Asia/Bangkok:{stamp(end)}\r\n"
            f"SUMMARY:{summary}\r\nLOCATION:{location}\r\nSTATUS:{status}\r\n"
            "END:VEVENT\r\n")


@pytest.mark.parametrize(("text", "scope"), [
    ("ดับไฟเพื่อปรับปรุงระบบ อำเภอจอมทอง จังหวัดเชียงใหม่", "district:5002"),
    ("ดับไฟ อ.เมืองน่าน จ.น่าน", "district:5501"),
    ("Mueang Chiang Mai district", "district:5001"),
    ("Chom Thong, Chiang Mai", "district:5002"),
    ("Chom Thong", None),  # Bangkok has a Chom Thong too
    ("ทั้งจังหวัดน่าน", "province:55"),
    ("Nan province", "province:55"),
    ("fibre splice site:S-2 (NT)", "site:S-2"),
    ("บ้านหนองบัว", None),  # a village, not the district of Nong Bua
    ("Nanny's house", None),
], ids=["thai-district", "thai-abbreviated", "english-district", "shared-name-with-province",
        "shared-name-alone", "thai-province", "english-province", "explicit-site",
        "village-not-district", "not-a-word"])
def test_scope_from_text(text: str, scope: str | None) -> None:
    assert scope_from_text(text) == scope


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """The district inventory and a config whose alerting database is the one returned."""
    write_inventory(district_inventory(), tmp_path / "inv")
    path = tmp_path / "pubnet.db"
    (tmp_path / "pubnet.yaml").write_text(f"inventory: inv\nalerting:\n  database: {path}\n",
                                          encoding="utf-8")
    return path


def windows(database: Path) -> list[tuple[str, float, float, str, str]]:
    with IncidentDB(database) as db:
        return [(w.scope, w.starts_at, w.ends_at, w.note, w.created_by)
                for w in db.maintenance_windows()]


def test_import_file_then_reimport_updates_and_cancels_without_duplicates(
    tmp_path: Path, database: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    ics = tmp_path / "pea.ics"
    past = SOON - timedelta(days=5)
    ics.write_bytes(feed(
        event("pea-1@pea.co.th", "ดับไฟปรับปรุงระบบจำหน่าย", "อำเภอจอมทอง จังหวัดเชียงใหม่",
              SOON, 4),
        event("pea-2@pea.co.th", "ดับไฟ", "อำเภอเมืองเชียงใหม่", SOON + timedelta(days=1), 2),
        event("pea-3@pea.co.th", "ดับไฟ", "จังหวัดสตูล", SOON, 2),  # not our area
        event("pea-4@pea.co.th", "ดับไฟ", "ตำบลที่ไม่มีใครรู้จัก", SOON, 2),
        event("pea-5@pea.co.th", "ดับไฟ", "อำเภอจอมทอง", past, 2),
    ))
    argv = ["maintenance", "import", "--ics", str(ics), "--scope-from", "LOCATION",
            "--config", str(tmp_path / "pubnet.yaml")]
    assert main(argv) == 0
    out = capsys.readouterr()
    assert "5 events: 2 added, 0 updated, 0 unchanged, 0 cancelled, 1 already over, " \
           "2 skipped" in out.out
    assert (f"{ics}: event pea-3@pea.co.th: LOCATION 'จังหวัดสตูล': no site or device in "
            "province 91 in the inventory: skipped") in out.err
    assert "pea-4@pea.co.th: LOCATION 'ตำบลที่ไม่มีใครรู้จัก': names no province" in out.err
    first = windows(database)
    assert first == [
        ("district:5002", SOON.timestamp(), SOON.timestamp() + 4 * 3600,
         "ดับไฟปรับปรุงระบบจำหน่าย", "ics"),
        ("district:5001", (SOON + timedelta(days=1)).timestamp(),
         (SOON + timedelta(days=1, hours=2)).timestamp(), "ดับไฟ", "ics"),
    ]
    assert main(argv) == 0
    assert "0 added, 0 updated, 2 unchanged" in capsys.readouterr().out
    assert windows(database) == first
    # the authority moves the first outage by an hour and cancels the second
    ics.write_bytes(feed(
        event("pea-1@pea.co.th", "ดับไฟปรับปรุงระบบจำหน่าย", "อำเภอจอมทอง จังหวัดเชียงใหม่",
              SOON + timedelta(hours=1), 4),
        event("pea-2@pea.co.th", "ดับไฟ", "อำเภอเมืองเชียงใหม่", SOON + timedelta(days=1), 2,
              status="CANCELLED"),
    ))
    assert main(argv) == 0
    assert "0 added, 1 updated, 0 unchanged, 1 cancelled" in capsys.readouterr().out
    after = windows(database)
    assert len(after) == 2
    assert after[0][:3] == ("district:5002", SOON.timestamp() + 3600,
                            SOON.timestamp() + 5 * 3600)
    assert after[1][1] == after[1][2], "a cancelled window never starts"
    assert main(["maintenance", "list", "--config", str(tmp_path / "pubnet.yaml"),
                 "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [w["scope"] for w in listed] == ["district:5002"]


async def test_import_from_a_url_with_the_scope_in_the_summary(
    tmp_path: Path, database: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    body = feed(
        event("chg-77@noc", "Fibre splice site:S-2", "Ban Thot Sop", SOON, 3),
        "BEGIN:VEVENT\r\nUID:chg-78@noc\r\nDTSTAMP:20261201T000000Z\r\n"
        f"DTSTART;VALUE=DATE:{(SOON + timedelta(days=3)).strftime('%Y%m%d')}\r\n"
        "SUMMARY:Core upgrade province:50\r\nEND:VEVENT\r\n",
    )
    seen: list[str] = []

    async def serve(request: web.Request) -> web.Response:
        seen.append(request.path_qs)
        return web.Response(body=body, content_type="text/calendar")

    app = web.Application()
    app.router.add_get("/calendar.ics", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        url = f"http://127.0.0.1:{port}/calendar.ics?token=s3cr3t-calendar-token"
        code = await asyncio.to_thread(main, [
            "maintenance", "import", "--ics", url, "--scope-from", "SUMMARY", "--config",
            str(tmp_path / "pubnet.yaml"), "--by", "noc-calendar"])
        missing = await asyncio.to_thread(main, [
            "maintenance", "import", "--ics", f"http://127.0.0.1:{port}/gone.ics",
            "--scope-from", "SUMMARY", "--config", str(tmp_path / "pubnet.yaml")])
    finally:
        await runner.cleanup()
    out = capsys.readouterr()
    assert code == 0 and missing == 1
    assert "s3cr3t-calendar-token" not in out.out + out.err
    assert f"http://127.0.0.1:{port}/gone.ics: HTTP 404" in out.err
    day = (SOON + timedelta(days=3)).replace(hour=0, minute=0)
    assert windows(database) == [
        ("site:S-2", SOON.timestamp(), SOON.timestamp() + 3 * 3600, "Fibre splice site:S-2",
         "noc-calendar"),
        ("province:50", day.timestamp(), day.timestamp() + 86400, "Core upgrade province:50",
         "noc-calendar"),
    ]


def test_not_a_calendar_is_one_clear_error(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "notes.ics"
    bad.write_text("this is not a calendar", encoding="utf-8")
    assert main(["maintenance", "import", "--ics", str(bad), "--scope-from", "LOCATION"]) == 1
    assert f"pubnet maintenance import: {bad}: not iCalendar" in capsys.readouterr().err
    assert main(["maintenance", "import", "--ics", str(tmp_path / "none.ics"),
                 "--scope-from", "LOCATION"]) == 1
    assert "none.ics: cannot read (No such file or directory)" in capsys.readouterr().err
