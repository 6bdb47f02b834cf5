"""``pubnet maintenance import --ics``: windows from a change calendar or the electricity
authority's planned-outage feed, one per event UID however often it is imported."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web

from alerting.db import IncidentDB
from alerting.ical import scope_from_text
from alerting.messages import BANGKOK
from inventory.writer import write_inventory
from pubnet.cli import main
from testbed.http import serving
from tests.alerting.builders import district_inventory

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
    assert (f"{ics}:22: event pea-3@pea.co.th: LOCATION 'จังหวัดสตูล': no site or device in "
            "province 91 in the inventory: skipped") in out.err
    assert (f"{ics}:31: event pea-4@pea.co.th: LOCATION 'ตำบลที่ไม่มีใครรู้จัก': names no "
            "province") in out.err
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
    async with serving(app) as port:
        url = f"http://127.0.0.1:{port}/calendar.ics?token=s3cr3t-calendar-token"
        code = await asyncio.to_thread(main, [
            "maintenance", "import", "--ics", url, "--scope-from", "SUMMARY", "--config",
            str(tmp_path / "pubnet.yaml"), "--by", "noc-calendar"])
        missing = await asyncio.to_thread(main, [
            "maintenance", "import", "--ics", f"http://127.0.0.1:{port}/gone.ics",
            "--scope-from", "SUMMARY", "--config", str(tmp_path / "pubnet.yaml")])
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


def test_a_broken_inventory_is_reported_as_the_import_command(
        tmp_path: Path, database: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ics = tmp_path / "pea.ics"
    ics.write_bytes(feed(event("pea-1@pea.co.th", "ดับไฟ", "อำเภอจอมทอง", SOON, 4)))
    (tmp_path / "inv" / "sites.csv").write_text("not,a,site,table\n", encoding="utf-8")
    assert main(["maintenance", "import", "--ics", str(ics), "--scope-from", "LOCATION",
                 "--config", str(tmp_path / "pubnet.yaml")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"pubnet maintenance import: the inventory {tmp_path / 'inv'} "
                          "has 1 error(s)"), err
    assert f"{tmp_path / 'inv' / 'sites.csv'}:1: header: missing columns: site_id" in err, err
    assert not database.exists() or windows(database) == []


def recurring(uid: str, start: datetime, hours: float, *lines: str,
              location: str = "อำเภอจอมทอง จังหวัดเชียงใหม่", tzid: str = "Asia/Bangkok") -> str:
    """A VEVENT with extra lines (RRULE, EXDATE, RECURRENCE-ID, ...)."""
    end = start + timedelta(hours=hours)
    return ("BEGIN:VEVENT\r\n"
            f"UID:{uid}\r\nDTSTAMP:20261201T000000Z\r\n"
            f"DTSTART;TZID={tzid}:{stamp(start)}\r\nDTEND;TZID={tzid}:{stamp(end)}\r\n"
            + "".join(f"{line}\r\n" for line in lines)
            + f"SUMMARY:ดับไฟ {uid}\r\nLOCATION:{location}\r\nEND:VEVENT\r\n")


def bkk(moment: datetime) -> str:
    return f"TZID=Asia/Bangkok:{stamp(moment)}"


def test_recurring_events_expand_to_one_window_per_occurrence_and_follow_the_feed(
    tmp_path: Path, database: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """RRULE, RDATE, EXDATE and a moved occurrence (RECURRENCE-ID) over the horizon, in
    the TZID given; re-importing changes nothing, and an occurrence or event that leaves
    the feed leaves maintenance; a malformed RRULE names its event and the rest imports."""
    week = timedelta(days=7)
    berlin = SOON.astimezone(ZoneInfo("Europe/Berlin")).replace(tzinfo=None)
    weekly = [
        recurring("weekly@pea", SOON, 3, "RRULE:FREQ=WEEKLY;COUNT=6",
                  f"EXDATE;{bkk(SOON + week)}", f"RDATE;{bkk(SOON + timedelta(days=10))}"),
        recurring("weekly@pea", SOON + 2 * week + timedelta(hours=4), 2,
                  f"RECURRENCE-ID;{bkk(SOON + 2 * week)}"),
    ]
    endless = recurring("every10@noc", SOON, 1, "RRULE:FREQ=DAILY;INTERVAL=10",
                        location="อำเภอเมืองเชียงใหม่")
    abroad = recurring("berlin@noc", berlin, 1, "RRULE:FREQ=DAILY;COUNT=2",
                       location="อำเภอเมืองเชียงใหม่", tzid="Europe/Berlin")
    bad = recurring("bad@noc", SOON, 1, "RRULE:FREQ=SOMETIMES;BYDAY=XX")
    ics = tmp_path / "outages.ics"
    ics.write_bytes(feed(*weekly, endless, abroad, bad))
    argv = ["maintenance", "import", "--ics", str(ics), "--scope-from", "LOCATION",
            "--horizon", "31", "--config", str(tmp_path / "pubnet.yaml")]
    assert main(argv) == 0
    out = capsys.readouterr()
    assert "4 events (10 windows: recurring events up to " in out.out
    assert "10 added, 0 updated, 0 unchanged, 0 cancelled, 0 already over, 0 skipped, " \
           "1 unreadable, 0 removed" in out.out
    bad_line = feed(*weekly, endless, abroad).decode().count("\r\n")  # its BEGIN:VEVENT
    assert (f"{ics}:{bad_line}: event bad@noc: RRULE 'FREQ=SOMETIMES;BYDAY=XX' cannot be read"
            in out.err)
    hour = 3600
    at = SOON.timestamp()
    weekly_windows = [(at, at + 3 * hour), (at + 10 * 86400, at + 10 * 86400 + 3 * hour),
                      (at + 14 * 86400 + 4 * hour, at + 14 * 86400 + 6 * hour)]
    weekly_windows += [(at + n * 7 * 86400, at + n * 7 * 86400 + 3 * hour) for n in (3, 4)]
    got = windows(database)
    assert sorted((w[1], w[2]) for w in got if w[0] == "district:5002") == weekly_windows, \
        "the EXDATE left out, the RDATE added, the override moved; week 5 is past the horizon"
    mueang = sorted((w[1], w[2]) for w in got if w[0] == "district:5001")
    assert mueang == sorted([(at + n * 86400, at + n * 86400 + hour) for n in (0, 10, 20)]
                            + [(at + n * 86400, at + n * 86400 + hour) for n in (0, 1)]), \
        "the endless series stops at the horizon; Berlin time is read as Berlin time"
    assert main(argv) == 0
    assert "0 added, 0 updated, 10 unchanged" in capsys.readouterr().out
    assert windows(database) == got, "a re-import never duplicates"

    # the authority drops week 3, moves the override again, fixes its rule and deletes the
    # Berlin event from the feed
    weekly = [
        recurring("weekly@pea", SOON, 3, "RRULE:FREQ=WEEKLY;COUNT=6",
                  f"EXDATE;{bkk(SOON + week)}", f"EXDATE;{bkk(SOON + 3 * week)}",
                  f"RDATE;{bkk(SOON + timedelta(days=10))}"),
        recurring("weekly@pea", SOON + 2 * week + timedelta(hours=5), 2,
                  f"RECURRENCE-ID;{bkk(SOON + 2 * week)}"),
    ]
    fixed = recurring("bad@noc", SOON, 1, "RRULE:FREQ=DAILY;COUNT=1")
    ics.write_bytes(feed(*weekly, endless, fixed))
    assert main(argv) == 0
    assert "1 added, 1 updated, 6 unchanged, 0 cancelled, 0 already over, 0 skipped, " \
           "0 unreadable, 3 removed" in capsys.readouterr().out
    after = windows(database)
    assert len(after) == len(got) + 1, "updated in place, removed ones kept as a record"
    live = sorted((w[1], w[2]) for w in after if w[0] == "district:5002" and w[2] > w[1])
    assert live == [(at, at + hour), (at, at + 3 * hour),
                    (at + 10 * 86400, at + 10 * 86400 + 3 * hour),
                    (at + 14 * 86400 + 5 * hour, at + 14 * 86400 + 7 * hour),
                    (at + 28 * 86400, at + 28 * 86400 + 3 * hour)]
    assert sum(1 for w in after if w[0] == "district:5001" and w[2] > w[1]) == 3


def test_windows_imported_by_uid_alone_are_kept_on_upgrade(
    tmp_path: Path, database: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """A database from the first release keyed imports on UID alone: its windows are
    updated, not imported a second time."""
    with IncidentDB(database) as db:
        db.conn.executescript(
            "CREATE TABLE maintenance_imports (uid TEXT PRIMARY KEY, window_id INTEGER "
            "NOT NULL, source TEXT NOT NULL, imported_at REAL NOT NULL);")
        window = db.add_maintenance("district:5002", SOON.timestamp(),
                                    SOON.timestamp() + 3600, "ดับไฟ", "ics", 0.0)
        db.conn.execute("INSERT INTO maintenance_imports VALUES ('pea-1@pea.co.th', ?, "
                        "'pea.ics', 0)", (window,))
    ics = tmp_path / "pea.ics"
    ics.write_bytes(feed(event("pea-1@pea.co.th", "ดับไฟ", "อำเภอจอมทอง", SOON, 2)))
    assert main(["maintenance", "import", "--ics", str(ics), "--scope-from", "LOCATION",
                 "--config", str(tmp_path / "pubnet.yaml")]) == 0
    assert "0 added, 1 updated" in capsys.readouterr().out
    assert windows(database) == [("district:5002", SOON.timestamp(), SOON.timestamp() + 7200,
                                  "ดับไฟ", "ics")]
