"""``pubnet alerts list|ack`` and ``pubnet maintenance add|list`` against the database."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from alerting.cli import parse_time
from alerting.db import IncidentDB, IncidentFacts
from alerting.model import Incident, Kind, Severity, State
from inventory.writer import write_inventory
from pubnet.cli import main
from tests.alerting.builders import district_inventory


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    write_inventory(district_inventory(), tmp_path / "inv")
    path = tmp_path / "pubnet.yaml"
    path.write_text("inventory: inv\nalerting:\n  database: state/alerts.db\n",
                    encoding="utf-8")
    return path


def seed(db_path: Path) -> None:
    now = time.time()
    firing = Incident("INC-1", Kind.DEVICE_DOWN, Severity.MAJOR, "device:da-5001", now - 600,
                      now - 590, State.FIRING, frozenset({"device:da-5001"}), announced_at=now)
    resolved = Incident("INC-2", Kind.SITE_DOWN, Severity.MINOR, "device:S-4-gw", now - 900,
                        now - 890, State.RESOLVED, announced_at=now - 880, resolved_at=now - 60,
                        resolved_sent=True)
    pending = Incident("INC-3", Kind.SITE_DOWN, Severity.MINOR, "device:S-3-gw", now, now)
    with IncidentDB(db_path) as db:
        db.save([(firing, IncidentFacts("50", "5001", "S-1", 6, 3, "district router da-5001")),
                 (resolved, IncidentFacts("50", "5002", "S-4", 1, 1, "site gateway S-4-gw")),
                 (pending, IncidentFacts())], [], [], now)


def test_list_ack_and_list_again(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db_path = config_file.parent / "state" / "alerts.db"
    seed(db_path)
    assert main(["alerts", "list", "--config", str(config_file), "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [i["incident_id"] for i in listed] == ["INC-2", "INC-1"]  # pending is not shown
    assert listed[1]["affected_sites"] == 3 and listed[1]["state"] == "firing"

    assert main(["alerts", "ack", "INC-1", "--by", "สมชาย", "--note", "on my way",
                 "--config", str(config_file)]) == 0
    assert "INC-1 acknowledged by สมชาย" in capsys.readouterr().out
    assert main(["alerts", "list", "--config", str(config_file), "--state", "acknowledged"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["ID", "STATE", "KIND"]
    assert len(table) == 2 and table[1].startswith("INC-1") and "สมชาย" in table[1]
    with IncidentDB(db_path) as db:
        row = db.get("INC-1")
    assert row is not None
    assert row.incident.acked_by == "สมชาย" and row.incident.ack_note == "on my way"

    assert main(["alerts", "ack", "INC-2", "--by", "x", "--config", str(config_file)]) == 1
    assert "already resolved" in capsys.readouterr().err
    assert main(["alerts", "ack", "INC-99", "--by", "x", "--config", str(config_file)]) == 1
    assert main(["alerts", "ack", "INC-1", "--config", str(config_file)]) == 2  # --by missing


def test_maintenance_add_and_list(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["maintenance", "add", "--scope", "province:50", "--from", "now", "--to", "+2h",
                 "--note", "fibre splicing", "--config", str(config_file)]) == 0
    assert "maintenance window 1: province:50" in capsys.readouterr().out
    assert main(["maintenance", "add", "--scope", "district:5001",
                 "--from", "2030-01-01T08:00", "--to", "2030-01-01T12:00",
                 "--config", str(config_file)]) == 0
    capsys.readouterr()
    assert main(["maintenance", "list", "--config", str(config_file), "--format", "json"]) == 0
    windows = json.loads(capsys.readouterr().out)
    assert [(w["scope"], w["active"]) for w in windows] == [("province:50", True),
                                                            ("district:5001", False)]
    assert windows[1]["from"] == "2030-01-01T01:00:00Z"  # 08:00 Thailand time
    assert main(["maintenance", "list", "--config", str(config_file)]) == 0
    assert "fibre splicing" in capsys.readouterr().out


def test_maintenance_end_stops_a_window_and_keeps_it_on_record(
        config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = ["--config", str(config_file)]
    assert main(["maintenance", "add", "--scope", "site:S-1", "--from", "now", "--to", "+4h",
                 *cfg]) == 0
    assert main(["maintenance", "add", "--scope", "site:S-2", "--from", "2030-01-01T08:00",
                 "--to", "+2h", *cfg]) == 0
    capsys.readouterr()
    assert main(["maintenance", "end", "1", *cfg]) == 0
    assert "alerts for it are sent again" in capsys.readouterr().out
    assert main(["maintenance", "end", "2", *cfg]) == 0  # not started: it never will
    capsys.readouterr()
    assert main(["maintenance", "list", "--format", "json", *cfg]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["maintenance", "list", "--all", "--format", "json", *cfg]) == 0
    ended = json.loads(capsys.readouterr().out)
    assert [(w["scope"], w["active"]) for w in ended] == [("site:S-1", False),
                                                          ("site:S-2", False)]
    assert ended[1]["from"] == ended[1]["to"]
    assert main(["maintenance", "end", "9", *cfg]) == 1
    assert "no maintenance window 9" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scope", "village:1", "--from", "now", "--to", "+1h"], "invalid scope"),
        (["--scope", "site:S-1", "--from", "yesterday", "--to", "+1h"], "cannot read time"),
        (["--scope", "site:S-1", "--from", "now", "--to", "2000-01-01T00:00"], "after --from"),
    ],
    ids=["bad-scope", "bad-time", "end-before-start"],
)
def test_maintenance_add_rejects_bad_input(config_file: Path, args: list[str], message: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["maintenance", "add", *args, "--config", str(config_file)]) == 1
    assert message in capsys.readouterr().err


def test_parse_time_forms() -> None:
    assert parse_time("now", now=1000.0) == 1000.0
    assert parse_time("+90m", now=1000.0) == 1000.0 + 5400
    assert parse_time("+1h", base=50.0, now=1000.0) == 3650.0
    assert parse_time("2026-01-01T07:00:00+00:00") == parse_time("2026-01-01T14:00")


def test_every_acknowledgement_is_kept(config_file: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    db_path = config_file.parent / "state" / "alerts.db"
    seed(db_path)
    cfg = ["--config", str(config_file)]
    assert main(["alerts", "ack", "INC-1", "--by", "สมชาย", "--note", "on my way", *cfg]) == 0
    assert main(["alerts", "ack", "INC-1", "--by", "มาลี", "--note", "ถึงแล้ว", *cfg]) == 0
    assert main(["alerts", "ack", "INC-1", "--by", "somchai", *cfg]) == 0
    capsys.readouterr()
    assert main(["alerts", "list", "--format", "json", *cfg]) == 0
    row = next(i for i in json.loads(capsys.readouterr().out) if i["incident_id"] == "INC-1")
    # the incident shows the latest; the history has them all, oldest first
    assert (row["acknowledged_by"], row["ack_note"]) == ("somchai", None)
    assert [(a["by"], a["note"], a["channel"]) for a in row["acks"]] == [
        ("สมชาย", "on my way", "cli"), ("มาลี", "ถึงแล้ว", "cli"), ("somchai", None, "cli")]
    assert row["acknowledged_at"] == row["acks"][-1]["at"]
    assert all(a["at"].endswith("Z") for a in row["acks"])
    assert main(["alerts", "list", *cfg]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[2].startswith("INC-1") and table[2].endswith("somchai")


OLD_SCHEMA = """
CREATE TABLE incidents (
    id TEXT PRIMARY KEY, number INTEGER NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL,
    root TEXT NOT NULL, state TEXT NOT NULL, started_at REAL NOT NULL,
    created_at REAL NOT NULL, members TEXT NOT NULL, announced_at REAL, resolved_at REAL,
    resolved_sent INTEGER NOT NULL DEFAULT 0, merged_into TEXT, acked_by TEXT,
    acked_at REAL, ack_note TEXT, maintenance INTEGER NOT NULL DEFAULT 0,
    sequence INTEGER NOT NULL DEFAULT 0, timers TEXT NOT NULL DEFAULT '[]',
    routes TEXT NOT NULL DEFAULT '[]', detail TEXT NOT NULL DEFAULT '',
    province TEXT NOT NULL DEFAULT '', district TEXT NOT NULL DEFAULT '',
    site TEXT NOT NULL DEFAULT '', affected_devices INTEGER NOT NULL DEFAULT 0,
    affected_sites INTEGER NOT NULL DEFAULT 0, summary TEXT NOT NULL DEFAULT '');
CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL,
    incident_id TEXT NOT NULL, status TEXT NOT NULL, sequence INTEGER NOT NULL,
    payload TEXT NOT NULL, province TEXT NOT NULL DEFAULT '',
    district TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, delivered_at REAL,
    last_error TEXT NOT NULL DEFAULT '', UNIQUE (channel, incident_id, status, sequence));
CREATE TABLE maintenance (
    id INTEGER PRIMARY KEY AUTOINCREMENT, scope TEXT NOT NULL, starts_at REAL NOT NULL,
    ends_at REAL NOT NULL, note TEXT NOT NULL DEFAULT '', created_by TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL);
"""


def test_database_of_an_earlier_release_opens_with_its_acknowledgement(
        config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A pubnet.db written before acknowledgements had a history keeps its one ack."""
    db_path = config_file.parent / "state" / "alerts.db"
    db_path.parent.mkdir()
    conn = sqlite3.connect(db_path)
    conn.executescript(OLD_SCHEMA)
    conn.execute(
        "INSERT INTO incidents (id, number, kind, severity, root, state, started_at, "
        "created_at, members, announced_at, acked_by, acked_at, ack_note) VALUES "
        "('INC-4', 4, 'device_down', 'major', 'device:da-5001', 'acknowledged', "
        "1764000000, 1764000000, '[\"device:da-5001\"]', 1764000020, 'somchai', "
        "1764000100, 'on my way')")
    conn.commit()
    conn.close()
    cfg = ["--config", str(config_file)]
    assert main(["alerts", "ack", "INC-4", "--by", "malee", *cfg]) == 0
    capsys.readouterr()
    assert main(["alerts", "list", "--format", "json", *cfg]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["acknowledged_by"] == "malee"
    assert [(a["by"], a["note"], a["at"]) for a in row["acks"]] == [
        ("somchai", "on my way", "2025-11-24T16:01:40Z"), ("malee", None, row["acknowledged_at"])]
    with IncidentDB(db_path) as db:  # opening again migrates nothing twice
        assert len(db.acks("INC-4")) == 2


@pytest.mark.parametrize(
    ("scope", "message"),
    [
        ("province:99", "'99' is not a province code of Thailand"),
        ("province:24", "no site or device in province 24 in the inventory"),
        ("province:เชียงใหม่", "province:<2-digit code>"),
        ("district:9999", "'9999' is not a district code of Thailand"),
        ("district:5003", "no site in district 5003 in the inventory"),
        ("site:NOPE", "no site 'NOPE'"),
        ("device:NOPE", "no device 'NOPE'"),
    ],
    ids=["unknown-province", "province-not-in-inventory", "thai-name", "unknown-district",
         "district-not-in-inventory", "unknown-site", "unknown-device"],
)
def test_maintenance_scope_must_name_something_in_the_inventory(
        config_file: Path, scope: str, message: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["maintenance", "add", "--scope", scope, "--from", "now", "--to", "+1h",
                 "--config", str(config_file)]) == 1
    err = capsys.readouterr().err
    assert message in err
    for form in ("province:<2-digit code>", "district:<4-digit code>", "site:<site_id>",
                 "device:<device_id>"):
        assert form in err
    assert main(["maintenance", "list", "--config", str(config_file), "--format",
                 "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_maintenance_scope_suggests_the_code_for_a_province_name(
        config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("Chiang Mai", "เชียงใหม่", "จังหวัดเชียงใหม่"):
        assert main(["maintenance", "add", "--scope", f"province:{name}", "--from", "now",
                     "--to", "+1h", "--config", str(config_file)]) == 1
        assert "use province:50 (Chiang Mai)" in capsys.readouterr().err


@pytest.mark.parametrize("scope", ["province:50", "district:5002", "site:S-2", "device:da-5001"],
                         ids=str)
def test_maintenance_scopes_in_the_inventory_are_accepted(
        config_file: Path, scope: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["maintenance", "add", "--scope", scope, "--from", "now", "--to", "+1h",
                 "--config", str(config_file)]) == 0
    assert f"maintenance window 1: {scope}" in capsys.readouterr().out


def test_maintenance_window_already_over_is_refused(
        config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = ["--config", str(config_file)]
    assert main(["maintenance", "add", "--scope", "province:50", "--from", "2020-01-01T08:00",
                 "--to", "+2h", *cfg]) == 1
    assert "already ended" in capsys.readouterr().err
    assert main(["maintenance", "list", "--all", "--format", "json", *cfg]) == 0
    assert json.loads(capsys.readouterr().out) == []
    # one that started earlier and is still running is fine
    assert main(["maintenance", "add", "--scope", "province:50", "--from", "2020-01-01T08:00",
                 "--to", "2099-01-01T08:00", *cfg]) == 0


def test_maintenance_scope_without_an_inventory(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No inventory to check against: province and district codes are still checked
    against Thailand's; a site or device cannot be, so it is refused."""
    config = tmp_path / "bare.yaml"
    config.write_text("alerting:\n  database: alerts.db\n", encoding="utf-8")
    cfg = ["--from", "now", "--to", "+1h", "--config", str(config)]
    assert main(["maintenance", "add", "--scope", "province:99", *cfg]) == 1
    assert "province:<2-digit code>" in capsys.readouterr().err
    assert main(["maintenance", "add", "--scope", "site:S-1", *cfg]) == 1
    assert "--inventory" in capsys.readouterr().err
    assert main(["maintenance", "add", "--scope", "province:50", *cfg]) == 0
    assert main(["maintenance", "add", "--scope", "site:S-1", "--inventory",
                 str(tmp_path / "inv"), *cfg]) == 1  # given but not there
    write_inventory(district_inventory(), tmp_path / "inv")
    assert main(["maintenance", "add", "--scope", "site:S-1", "--inventory",
                 str(tmp_path / "inv"), *cfg]) == 0
