"""Who is on call: technicians.csv, oncall.csv, and the ``oncall`` route target.

Times are set, never waited for: the rota is a pure function of a timestamp and the
service takes a clock, so "Monday 10:00" and "Saturday 02:00" are values in the test.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path

import pytest

from alerting.directory import DirectoryError, load_technicians
from alerting.lifecycle import RoutePolicy, step
from alerting.messages import BANGKOK
from alerting.model import Incident, Kind, Reason, Severity, State
from alerting.oncall import load_oncall, load_rota
from pubnet.config import ConfigError, parse_config
from tests.alerting.builders import poll_round
from tests.alerting.conftest import HttpReceiver, StartService, alerting_config
from tests.support import eventually

LINE = {f"tech-{c}": "U" + c * 32 for c in "abcdef"}

TECHNICIANS = (
    "\ufefftechnician_id,name,phone,email,line_user_id,telegram_user_id,provinces,districts\n"
    f"tech-a,สมชาย ใจดี,0810000001,a@example.th,{LINE['tech-a']},,50,5001 5002\n"
    f"tech-b,มาลี ศรีสุข,0810000002,,{LINE['tech-b']},111,50,5001\n"
    f"tech-c,Chai Dee,,,{LINE['tech-c']},,50,5002\n"
    f"tech-d,Dao,,,{LINE['tech-d']},,50,5001\n"
    f"tech-e,Ekachai,,,{LINE['tech-e']},,50,5002\n"
    f"tech-f,หัวหน้าจังหวัด,,,{LINE['tech-f']},,50,\n"
)
ONCALL = (
    "district_code,technician_id,weekdays,from,to\n"
    "5001,tech-a,mon-fri,08:00,18:00\n"
    "5001,tech-b,daily,18:00,08:00\n"
    "5001,tech-d,mon-fri,08:00,18:00\n"
    "5001,tech-c,sat,sun,00:00,24:00\n"  # fixed below: a quoted weekdays cell
    "5001,tech-d,2026-12-08..2026-12-09,08:00,18:00\n"
    "50,tech-e,daily,00:00,24:00\n"
).replace("sat,sun,00:00", '"sat,sun",00:00')


def at(text: str) -> float:
    """A Thailand-time timestamp: ``at("2026-12-07 10:00")`` (a Monday)."""
    return datetime.fromisoformat(text).replace(tzinfo=BANGKOK).timestamp()


def files(tmp_path: Path) -> tuple[Path, Path]:
    techs = tmp_path / "technicians.csv"
    techs.write_text(TECHNICIANS, encoding="utf-8")
    rota = tmp_path / "oncall.csv"
    rota.write_text(ONCALL, encoding="utf-8")
    return techs, rota


def test_directory_reads_a_bom_and_finds_people(tmp_path: Path) -> None:
    techs, _ = files(tmp_path)
    directory = load_technicians(techs)
    assert len(directory) == 6
    assert directory.by_line[LINE["tech-b"]].name == "มาลี ศรีสุข"
    assert directory.by_telegram["111"].technician_id == "tech-b"
    assert directory.get("tech-a") is not None
    assert directory.get("tech-a").districts == {"5001", "5002"}  # type: ignore[union-attr]
    lead = directory.lead_of("50")
    assert lead is not None and lead.technician_id == "tech-f"
    assert directory.lead_of("10") is None


HEADER = "technician_id,name,phone,email,line_user_id,telegram_user_id,provinces,districts"


def test_an_explicit_lead_column_names_the_leads(tmp_path: Path) -> None:
    """With the optional ``lead`` column, the technicians marked yes lead (whatever they
    cover), and nobody else; a short row leaves it empty (no)."""
    path = tmp_path / "technicians.csv"
    path.write_text(f"{HEADER},lead\n"
                    "tech-a,สมชาย ใจดี,,,,,50 55,5001,yes\n"
                    "tech-f,Roaming,,,,,50,,no\n"
                    "tech-g,Gao,,,,,50,\n", encoding="utf-8")
    directory = load_technicians(path)
    assert [t.technician_id for t in directory.by_id.values() if t.is_lead] == ["tech-a"]
    lead = directory.lead_of("55")
    assert lead is not None and lead.technician_id == "tech-a"
    assert directory.lead_of("50") is lead
    assert directory.lead_of("10") is None


@pytest.mark.parametrize(("rows", "expected"), [
    ("tech-x,X,,,,,50,,maybe", ":2: lead: 'maybe': yes or no (empty is no)"),
    ("tech-x,X,,,,,,5001,yes", ":2: lead: a lead needs the provinces they lead"),
], ids=["not-yes-or-no", "lead-of-nothing"])
def test_lead_column_errors(tmp_path: Path, rows: str, expected: str) -> None:
    path = tmp_path / "technicians.csv"
    path.write_text(f"{HEADER},lead\n{rows}\n", encoding="utf-8")
    with pytest.raises(DirectoryError) as caught:
        load_technicians(path)
    assert str(caught.value).startswith(str(path) + expected), str(caught.value)


def test_without_a_lead_escalation_stops_at_the_last_on_call_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    techs = tmp_path / "technicians.csv"
    techs.write_text(TECHNICIANS.replace("tech-f,หัวหน้าจังหวัด,,,", "tech-f,Roaming,,,")
                     .replace(",50,\n", ",50,5003\n"), encoding="utf-8")
    rota = tmp_path / "oncall.csv"
    rota.write_text(ONCALL, encoding="utf-8")
    config = alerting_config(tmp_path, routes=[], channels={
        "bot": {"type": "line", "token": "line-token", "to": "Cgroup"}})
    with caplog.at_level("WARNING", logger="pubnet.alerting"):
        oncall, _channels = load_oncall(techs, rota, config.alerting.channels)
    assert oncall.directory.lead_of("50") is None
    (loaded,) = [r for r in caplog.records if r.getMessage().startswith("no provincial lead")]
    assert loaded.__dict__["province"] == "50"
    caplog.clear()
    monday = at("2026-12-07 10:00")
    assert oncall.people("5001", "50", monday, [0, 1, 2]) == [
        "oncall:tech-a", "oncall:tech-d", "oncall:tech-e"]
    assert caplog.records == [], "a first message or a resolve is not an escalation"
    with caplog.at_level("WARNING", logger="pubnet.alerting"):
        assert oncall.people("5001", "50", monday, [5], escalation=True) == ["oncall:tech-e"]
    (warned,) = caplog.records
    assert warned.getMessage().startswith("escalation has nobody further: no provincial lead")
    assert warned.__dict__["last"] == "tech-e" and warned.__dict__["province"] == "50"


@pytest.mark.parametrize(("row", "expected"), [
    ("tech-x,,,,,,50,", ":2: name: empty"),
    ("tech-x,X,,not-mail,,,50,", ":2: email: 'not-mail' is not an e-mail address"),
    ("tech-x,X,,,U123,,50,", ":2: line_user_id: not a LINE user id"),
    ("tech-x,X,,,,abc,50,", ":2: telegram_user_id: 'abc' is not a Telegram user id"),
    ("tech-x,X,,,,,5,", ":2: provinces: '5' is not a 2-digit province code"),
    ("tech-x,X,,,,,99,", ":2: provinces: no province has the code 99"),
    ("tech-x,X,,,,,50,9999", ":2: districts: no district has the code 9999"),
    ("tech x,X,,,,,50,", ":2: technician_id: 'tech x': use letters"),
    ("tech-x,X,,,,,50,,extra", ":2: row: 9 cells"),
], ids=["no-name", "bad-email", "bad-line-id", "bad-telegram-id", "short-province",
        "unknown-province", "unknown-district", "space-in-id", "extra-cell"])
def test_directory_errors_name_file_line_and_field(tmp_path: Path, row: str,
                                                    expected: str) -> None:
    path = tmp_path / "technicians.csv"
    path.write_text("technician_id,name,phone,email,line_user_id,telegram_user_id,provinces,"
                    f"districts\n{row}\n", encoding="utf-8")
    with pytest.raises(DirectoryError) as caught:
        load_technicians(path)
    assert str(caught.value).startswith(str(path) + expected), str(caught.value)


def test_directory_duplicates_and_missing_header(tmp_path: Path) -> None:
    path = tmp_path / "technicians.csv"
    path.write_text("technician_id,name,line_user_id\n"
                    f"t1,A,{LINE['tech-a']}\n\n"
                    f"t1,B,\nt2,C,{LINE['tech-a']}\n", encoding="utf-8")
    with pytest.raises(DirectoryError) as caught:
        load_technicians(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:4: technician_id: t1 is already on line 2",
        f"{path}:5: line_user_id: already given to the technician on line 2",
    ]
    path.write_text("name,phone\nA,1\n", encoding="utf-8")
    with pytest.raises(DirectoryError, match=r":1: header: missing column\(s\) technician_id"):
        load_technicians(path)


@pytest.mark.parametrize(("row", "expected"), [
    ("5001,nobody,mon-fri,08:00,18:00", ":2: technician_id: 'nobody' is not in the"),
    ("501,tech-a,mon-fri,08:00,18:00", ":2: district_code: '501': a 4-digit district"),
    ("9999,tech-a,mon-fri,08:00,18:00", ":2: district_code: no district has the code 9999"),
    ("5001,tech-a,weekdays,08:00,18:00", ":2: weekdays: 'weekdays': use mon-fri"),
    ("5001,tech-a,2026-12-09..2026-12-08,08:00,18:00", ":2: weekdays: '2026-12-09..2026"),
    ("5001,tech-a,mon-fri,8am,18:00", ":2: from: '8am' is not a time"),
    ("5001,tech-a,mon-fri,08:00,24:30", ":2: to: '24:30' is not a time of day"),
    ("5001,tech-a,mon-fri,24:00,08:00", ":2: from: '24:00' is not a time of day"),
], ids=["unknown-technician", "short-code", "unknown-district", "bad-weekdays",
        "backwards-range", "bad-from", "bad-to", "24-as-start"])
def test_rota_errors_name_file_line_and_field(tmp_path: Path, row: str, expected: str) -> None:
    techs, _ = files(tmp_path)
    path = tmp_path / "bad-oncall.csv"
    path.write_text(f"district_code,technician_id,weekdays,from,to\n{row}\n", encoding="utf-8")
    with pytest.raises(DirectoryError) as caught:
        load_rota(path, load_technicians(techs))
    assert str(caught.value).startswith(str(path) + expected), str(caught.value)


@pytest.mark.parametrize(("when", "district", "chain"), [
    ("2026-12-07 10:00", "5001", ["tech-a", "tech-d", "tech-e", "tech-f"]),
    ("2026-12-07 17:59", "5001", ["tech-a", "tech-d", "tech-e", "tech-f"]),
    ("2026-12-07 18:00", "5001", ["tech-b", "tech-e", "tech-f"]),
    ("2026-12-08 03:00", "5001", ["tech-b", "tech-e", "tech-f"]),
    ("2026-12-08 10:00", "5001", ["tech-d", "tech-e", "tech-f"]),  # override: A on leave
    ("2026-12-10 10:00", "5001", ["tech-a", "tech-d", "tech-e", "tech-f"]),  # leave over
    ("2026-12-12 11:00", "5001", ["tech-c", "tech-e", "tech-f"]),  # Saturday
    ("2026-12-13 02:00", "5001", ["tech-b", "tech-c", "tech-e", "tech-f"]),  # Sat night
    ("2026-12-07 10:00", "5002", ["tech-e", "tech-f"]),  # no district row: province's
], ids=["weekday", "end-of-day", "evening", "night-after-monday", "override",
        "after-override", "weekend", "saturday-night", "province-fallback"])
def test_rota_chain_at_set_times(tmp_path: Path, when: str, district: str,
                                 chain: list[str]) -> None:
    techs, rota_path = files(tmp_path)
    directory = load_technicians(techs)
    rota = load_rota(rota_path, directory)
    assert [t.technician_id for t in rota.chain(directory, district, "50", at(when))] == chain


def test_escalation_steps_walk_and_stop() -> None:
    inc = Incident("INC-1", Kind.DEVICE_DOWN, Severity.MAJOR, "device:x", started_at=0.0,
                   created_at=0.0)
    policy = [RoutePolicy(0, None, 60.0, 3)]
    reasons = []
    for now in (0.0, 59.0, 60.0, 61.0, 120.0, 180.0, 240.0, 600.0):
        inc, sends = step(inc, policy, now, group_wait=0.0, muted=False)
        reasons += [(now, s.reason) for s in sends]
    assert reasons == [(0.0, Reason.FIRST), (60.0, Reason.ESCALATE), (120.0, Reason.ESCALATE),
                       (180.0, Reason.ESCALATE)]
    assert inc.timers[0].escalations == 3 and inc.state is State.FIRING


def test_config_oncall_target_needs_technicians(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sends to 'oncall': set alerting\.technicians"):
        parse_config({"alerting": {"routes": [{"channels": ["oncall"]}]}}, base_dir=tmp_path)
    with pytest.raises(ConfigError, match="'oncall' cannot name a channel"):
        parse_config({"alerting": {"channels": {"oncall": {
            "type": "webhook", "url": "http://127.0.0.1:1/x"}}}}, base_dir=tmp_path)
    with pytest.raises(ConfigError, match="oncall needs technicians"):
        parse_config({"alerting": {"oncall": "oncall.csv"}}, base_dir=tmp_path)


class Clock:
    """A clock the test moves."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_oncall_route_reaches_the_person_then_walks_the_rota(
    tmp_path: Path, receiver: HttpReceiver, start_service: StartService,
) -> None:
    techs, rota = files(tmp_path)
    config = alerting_config(
        tmp_path,
        routes=[{"match": {}, "channels": ["oncall"], "escalate_after": "10m",
                 "escalate_to": ["oncall"], "escalate_steps": 5}],
        channels={"bot": {"type": "line", "token": "line-token", "to": "Cgroup",
                          "base_url": receiver.base}},
        technicians=str(techs), oncall=str(rota),
    )
    oncall, personal = load_oncall(techs, rota, config.alerting.channels)
    assert set(personal) == {f"oncall:tech-{c}" for c in "abcdef"}
    clock = Clock(at("2026-12-07 10:00"))  # Monday morning
    run = await start_service(config, clock=clock, oncall=oncall, personal_channels=personal)

    def pushed_to() -> list[str]:
        return [json.loads(r.body)["to"] for r in receiver.on("/v2/bot/message/push")]

    ts = 1000.0
    for _ in range(3):
        ts += 1
        poll_round(run.store, ("S-1-gw",), False, ts)  # district 5001
    await eventually(lambda: list(run.service.incidents()), what="a pending incident")
    clock.now += 1  # past group_wait
    await eventually(lambda: pushed_to() == [LINE["tech-a"]], what="first to tech-a")
    for minutes, expected in ((10, "tech-d"), (20, "tech-e"), (30, "tech-f"),
                              (40, "tech-f")):
        clock.now = at("2026-12-07 10:00") + 1 + minutes * 60
        await eventually(lambda e=expected, m=minutes: pushed_to()[-1] == LINE[e]
                         and len(pushed_to()) == 1 + m // 10,
                         what=f"escalation step at {minutes} min to {expected}")
    clock.now += 3600
    await asyncio.sleep(0.3)
    assert len(pushed_to()) == 6  # five steps, then it stops
    # recovery: everyone who was told hears it is over
    ts += 1
    poll_round(run.store, ("S-1-gw",), True, ts)
    await eventually(lambda: len(pushed_to()) == 10, what="resolved to each person told")
    assert set(pushed_to()[6:]) == {LINE[t] for t in ("tech-a", "tech-d", "tech-e", "tech-f")}


def test_pubnet_run_refuses_a_bad_directory_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    from pubnet.cli import main

    files(tmp_path)
    rota = tmp_path / "oncall.csv"
    rota.write_text("district_code,technician_id,weekdays,from,to\n"
                    "5001,tech-a,mon-fri,08:00,18:00\n5001,tech-z,daily,18:00,08:00\n",
                    encoding="utf-8")
    (tmp_path / "pubnet.yaml").write_text(
        "prometheus: null\nalerting:\n  database: a.db\n  technicians: technicians.csv\n"
        "  oncall: oncall.csv\n  routes: [{channels: [oncall]}]\n", encoding="utf-8")
    assert main(["run", "--config", str(tmp_path / "pubnet.yaml")]) == 1
    err = capsys.readouterr().err
    assert f"{rota}:3: technician_id: 'tech-z' is not in the technician directory" in err
